//go:build !linux

package app

import (
	"errors"
	"net"
)

func forceReadBuffer(*net.UDPConn, int) error {
	return errors.ErrUnsupported
}
