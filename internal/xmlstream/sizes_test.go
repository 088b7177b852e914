package xmlstream

import "unsafe"

const (
	unsafeSizeofFrame   = unsafe.Sizeof(frame{})
	unsafeSizeofRawAttr = unsafe.Sizeof(rawAttr{})
)
