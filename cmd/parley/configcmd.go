package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// runConfig is `parley config check [FILE]` and `parley config example`.
func runConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: parley config check [FILE] | parley config example")
		return 2
	}
	switch args[0] {
	case "example":
		fs, _ := serveFlags(io.Discard)
		writeConfig(stdout, fs, nil, true)
		return 0
	case "check":
		var flags []string
		if len(args) > 2 {
			fmt.Fprintln(stderr, "usage: parley config check [FILE]")
			return 2
		}
		if len(args) == 2 {
			flags = []string{"--config", args[1]}
		}
		l, err := loadServeConfig(flags, stderr, os.LookupEnv)
		if err != nil {
			fmt.Fprintf(stderr, "parley config check: %v\n", err)
			return 1
		}
		writeConfig(stdout, l.set.fs, l.set.origins, false)
		return 0
	default:
		fmt.Fprintf(stderr, "parley config: unknown command %q\n", args[0])
		return 2
	}
}

// writeConfig prints every setting as a config file: the defaults with
// their documentation (example), or the effective values with where each
// came from and secrets masked.
func writeConfig(w io.Writer, fs *flag.FlagSet, origins map[string]origin, example bool) {
	if example {
		fmt.Fprint(w, "# parley.toml: every setting of `parley serve`, at its default.\n"+
			"# A flag of the same name wins over this file, and so does the environment\n"+
			"# variable PARLEY_<NAME> (turn-host: PARLEY_TURN_HOST). A string setting X\n"+
			"# can be read from a file with the key X-file (turn-secret-file = \"/etc/parley/turn-secret\").\n")
	} else {
		fmt.Fprint(w, "# the effective configuration (secrets masked)\n")
	}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		if example {
			fmt.Fprintf(w, "\n# %s\n%s = %s\n", strings.ReplaceAll(f.Usage, "\n", "\n# "), f.Name, tomlValue(f, f.DefValue))
			return
		}
		v := f.Value.String()
		if isSecret(f.Name) && v != "" {
			v = "********"
		}
		from := "default"
		if o := origins[f.Name]; o.line > 0 {
			from = fmt.Sprintf("%s:%d", o.source, o.line)
		} else if o.source != "" {
			from = o.source
		}
		fmt.Fprintf(w, "%s = %s  # %s\n", f.Name, tomlValue(f, v), from)
	})
}

// isSecret says whether a setting's value must not be printed.
func isSecret(name string) bool {
	for _, s := range []string{"-secret", "-token", "-password"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// tomlValue writes v as TOML: bare for booleans and numbers, a basic
// string otherwise.
func tomlValue(f *flag.Flag, v string) string {
	t := fmt.Sprintf("%T", f.Value)
	if strings.Contains(t, "bool") || strings.Contains(t, "int") || strings.Contains(t, "float") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(v) + `"`
}
