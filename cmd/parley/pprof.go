//go:build pprof

package main

// Built only with -tags pprof (scripts/sfu-compare and docs/BENCHMARKS.md
// use it): PARLEY_PPROF=127.0.0.1:6060 serves net/http/pprof there, for
// CPU and heap profiles of a running server. Release builds leave it out.

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("PARLEY_PPROF")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			slog.Error("pprof listener", "addr", addr, "err", err)
		}
	}()
}
