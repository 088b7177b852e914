package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time with -ldflags "-X main.version=...
// -X main.commit=..." (scripts/release.sh); without them the commit is the
// one the Go toolchain stamps when it builds from a checkout.
var version, commit = "dev", ""

// writeVersion prints the version, and the commit and its time that the Go
// toolchain stamped into the binary when it was built from a checkout.
func writeVersion(w io.Writer) {
	rev, when, dirty := commit, "", false
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	if dirty {
		rev += " (modified)"
	}
	fmt.Fprintf(w, "parley %s\ncommit %s %s\n%s %s/%s\n", version, rev, when, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
