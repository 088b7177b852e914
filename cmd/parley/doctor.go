package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"parley.dev/parley/internal/doctor"
)

// runDoctor is `parley doctor [serve's flags]`: it reads the same settings
// as `parley serve` (config file, environment, flags) and checks the
// running deployment they describe.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	l, err := loadServeConfig(args, stderr, os.LookupEnv)
	cfg := l.cfg
	if err != nil {
		fmt.Fprintf(stderr, "parley doctor: %v\n", err)
		return 2
	}
	_, portStr, _ := net.SplitHostPort(cfg.Listen)
	port, err := strconv.Atoi(portStr)
	if err != nil || port == 0 {
		fmt.Fprintf(stderr, "parley doctor: --listen %q has no port to check\n", cfg.Listen)
		return 2
	}
	results := doctor.Run(ctx, doctor.Config{
		Domain: cfg.Domain, PublicIP: cfg.PublicIP, Port: port, DataDir: cfg.DataDir,
		SelfSigned: cfg.TLSCert == "" && !cfg.ACME,
	})
	failed := 0
	for _, r := range results {
		if r.OK {
			fmt.Fprintf(stdout, "ok    %-11s %s\n", r.Check, r.Info)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL  %-11s %s\n      fix: %s\n", r.Check, r.Info, r.Fix)
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d of %d checks failed\n", failed, len(results))
		return 1
	}
	return 0
}
