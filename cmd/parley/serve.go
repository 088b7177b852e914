package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"parley.dev/parley/internal/app"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, _, err := loadServeConfig(args, stderr, os.LookupEnv)
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "parley serve: %v\n", err)
		return 2
	}
	if err := app.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "parley: %v\n", err)
		return 1
	}
	return 0
}

// errUsage is a command line that flag already reported.
var errUsage = errors.New("usage")

// loadServeConfig reads the settings of `parley serve` from the command
// line, the environment and the config file, and checks them.
func loadServeConfig(args []string, stderr io.Writer, lookupEnv func(string) (string, bool)) (app.Config, *settings, error) {
	fs, o := serveFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return app.Config{}, nil, errUsage
	}
	if fs.NArg() > 0 {
		return app.Config{}, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	s := newSettings(fs, lookupEnv)
	if err := s.applyEnv(); err != nil {
		return app.Config{}, s, err
	}
	path := o.config
	if path == "" {
		if _, err := os.Stat(defaultConfigFile); err == nil {
			path = defaultConfigFile
		}
	}
	if path != "" {
		if err := s.applyFile(path); err != nil {
			return app.Config{}, s, err
		}
	}
	cfg, err := o.finish()
	if err == nil {
		err = cfg.Check()
	}
	return cfg, s, s.locate(err)
}

// locate points a configuration error at the line or the variable that set
// the first of its settings that did not come from the command line.
func (s *settings) locate(err error) error {
	var ce *app.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	for _, k := range ce.Keys {
		switch o := s.origins[k]; {
		case o.line > 0:
			return &fileError{file: o.source, line: o.line, key: k, err: err}
		case o.source == "environment":
			return fmt.Errorf("%s: %w", envName(k), err)
		}
	}
	return err
}
