package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"parley.dev/parley/internal/accounts"
)

const userUsage = `usage:
  parley user add NAME    [--data DIR] [--domain D] [--scram-iterations N]
  parley user passwd NAME [--data DIR] [--domain D] [--scram-iterations N]
  parley user delete NAME [--data DIR] [--domain D]
  parley user list        [--data DIR] [--domain D]
add and passwd read the password from the first line of standard input.
Flags may come before or after NAME. Defaults: --data ./parley-data,
--domain localhost, --scram-iterations 4096 (use the server's value).
`

// userFlags are the options every user subcommand takes.
type userFlags struct {
	data, domain string
	iterations   int
}

// runUser implements "parley user ..."; args are what follows "user".
// Exit codes: 0 done, 1 the operation failed, 2 bad usage.
func runUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	sub := args[0]
	switch sub {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, userUsage)
		return 0
	case "add", "passwd", "delete", "list":
	default:
		fmt.Fprintf(stderr, "parley user: unknown subcommand %q\n%s", sub, userUsage)
		return 2
	}
	prog := "parley user " + sub
	var f userFlags
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, userUsage) }
	fs.StringVar(&f.data, "data", "./parley-data", "the data folder")
	fs.StringVar(&f.domain, "domain", "localhost", "the XMPP domain")
	fs.IntVar(&f.iterations, "scram-iterations", 4096, "PBKDF2 iterations for new SCRAM keys")
	names, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	wantNames := 1
	if sub == "list" {
		wantNames = 0
	}
	if len(names) != wantNames {
		fmt.Fprintf(stderr, "%s: expected %d name(s), got %d\n%s", prog, wantNames, len(names), userUsage)
		return 2
	}
	if err := runUserCommand(sub, names, f, stdin, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", prog, err)
		return 1
	}
	return 0
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// runUserCommand does the work of one subcommand; its errors are meant for
// the operator.
func runUserCommand(sub string, names []string, f userFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	if sub != "add" {
		// Only add may create the data folder: a mistyped --data should not.
		if _, err := os.Stat(filepath.Join(f.data, accounts.FileName)); errors.Is(err, os.ErrNotExist) {
			if sub == "list" {
				fmt.Fprintf(stderr, "no accounts in %s\n", f.data)
				return nil
			}
			return fmt.Errorf("no accounts in %s (see --data)", f.data)
		}
	}
	store, err := accounts.Open(accounts.Config{
		Dir: f.data, Domain: f.domain, Iterations: f.iterations,
		Logger: slog.New(slog.NewTextHandler(stderr, nil)),
	})
	if err != nil {
		return explainAccountsError(err, "", f)
	}
	if sub == "list" {
		for _, a := range store.List() {
			fmt.Fprintf(stdout, "%s@%s\tcreated %s\n", a.Name, store.Domain(), a.Created.UTC().Format(time.RFC3339))
		}
		return nil
	}
	name, err := accounts.NormalizeUsername(names[0])
	if err != nil {
		return explainAccountsError(err, names[0], f)
	}
	user := name + "@" + store.Domain()
	switch sub {
	case "add", "passwd":
		password, err := readPassword(stdin, stderr)
		if err != nil {
			return err
		}
		if sub == "add" {
			err = store.Add(name, password)
		} else {
			err = store.SetPassword(name, password)
		}
		if err != nil {
			return explainAccountsError(err, user, f)
		}
	case "delete":
		if err := store.Delete(name); err != nil {
			return explainAccountsError(err, user, f)
		}
	}
	fmt.Fprintf(stdout, "%s: %s\n", map[string]string{"add": "added", "passwd": "password changed", "delete": "deleted"}[sub], user)
	return nil
}

// readPassword reads the first line of stdin, prompting if it is a terminal.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(stderr, "Password (shown as typed): ")
		}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password: give it on the first line of standard input")
	}
	return line, nil
}

// explainAccountsError turns store errors into operator-facing messages.
func explainAccountsError(err error, user string, f userFlags) error {
	switch {
	case errors.Is(err, accounts.ErrExists):
		return fmt.Errorf("user %s already exists", user)
	case errors.Is(err, accounts.ErrNotFound):
		return fmt.Errorf("no user %s", user)
	case errors.Is(err, accounts.ErrInvalidUsername):
		return fmt.Errorf("%q is not a valid username (no spaces, @, /, :, quotes or <>)", user)
	case errors.Is(err, accounts.ErrInvalidPassword):
		return errors.New("password not allowed: it is empty or contains control characters")
	case errors.Is(err, accounts.ErrDomainMismatch):
		return fmt.Errorf("%v; pass the server's --domain (got --domain %s)", err, f.domain)
	}
	return err
}
