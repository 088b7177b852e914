package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"parley.dev/parley/internal/app"
)

// A setting of `parley serve` comes from, in order of precedence: its flag,
// its PARLEY_* environment variable, the config file, its default. Every
// flag is a config key of the same name (`turn-host = "turn.example.org"`),
// so there is one list of settings, in serveflags.go. A key that names a
// string setting plus "-file" reads that setting from a file, so that
// secrets stay out of the config and of the process list.

// origin says where a setting's value came from.
type origin struct {
	source string // "flag", "environment" or the config file's path
	line   int    // the line in the config file
}

// defaultConfigFile is read when --config is not given and it exists.
const defaultConfigFile = "parley.toml"

// fileError is a config file problem, located.
type fileError struct {
	file string
	line int
	key  string
	err  error
}

func (e *fileError) Error() string {
	if e.key == "" {
		return fmt.Sprintf("%s:%d: %v", e.file, e.line, e.err)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.file, e.line, e.key, e.err)
}

// settings applies the environment and the config file to fs, whose
// command line is already parsed, without overriding what a higher source
// set. configPath is the --config flag's value.
type settings struct {
	fs      *flag.FlagSet
	origins map[string]origin // by flag name
	lookup  func(string) (string, bool)
}

func newSettings(fs *flag.FlagSet, lookupEnv func(string) (string, bool)) *settings {
	s := &settings{fs: fs, origins: map[string]origin{}, lookup: lookupEnv}
	fs.Visit(func(f *flag.Flag) { s.origins[f.Name] = origin{source: "flag"} })
	return s
}

// envName is the environment variable of a setting: turn-host -> PARLEY_TURN_HOST.
func envName(key string) string {
	return "PARLEY_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// applyEnv sets every setting not given on the command line from its
// PARLEY_* variable, or from the file its PARLEY_*_FILE variable names.
func (s *settings) applyEnv() error {
	var err error
	s.fs.VisitAll(func(f *flag.Flag) {
		if err != nil || s.origins[f.Name].source != "" {
			return
		}
		v, ok := s.lookup(envName(f.Name))
		if !ok {
			path, okFile := s.lookup(envName(f.Name + "-file"))
			if !okFile || s.fs.Lookup(f.Name+"-file") != nil {
				return
			}
			if v, err = app.ReadSecretFile(path); err != nil {
				err = fmt.Errorf("%s: %w", envName(f.Name+"-file"), err)
				return
			}
		}
		if e := s.fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			return
		}
		s.origins[f.Name] = origin{source: "environment"}
	})
	return err
}

// applyFile reads the config file and sets each setting that neither a flag
// nor the environment set. Unknown keys, bad values and duplicates are
// errors that name the file, the line and the key.
func (s *settings) applyFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	entries, err := parseConfig(path, data)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := s.applyEntry(path, e); err != nil {
			return err
		}
	}
	return nil
}

func (s *settings) applyEntry(path string, e configEntry) error {
	located := func(err error) error { return &fileError{file: path, line: e.line, key: e.key, err: err} }
	name, values := e.key, e.values
	if s.fs.Lookup(name) == nil || name == "config" {
		base, isFile := strings.CutSuffix(name, "-file")
		if !isFile || s.fs.Lookup(base) == nil || base == "config" {
			return located(unknownKey(s.fs, name))
		}
		if len(values) != 1 {
			return located(errors.New("want one file name"))
		}
		secret, err := app.ReadSecretFile(values[0])
		if err != nil {
			return located(err)
		}
		name, values = base, []string{secret}
	}
	if o := s.origins[name]; o.source != "" {
		if o.line > 0 {
			return located(fmt.Errorf("already set at line %d", o.line))
		}
		return nil // a flag or the environment wins
	}
	for _, v := range values {
		if err := s.fs.Set(name, v); err != nil {
			return located(fmt.Errorf("bad value %q: %s", v, wantOf(s.fs.Lookup(name), err)))
		}
	}
	s.origins[name] = origin{source: path, line: e.line}
	return nil
}

// wantOf says what a setting takes, for a value its flag refused.
func wantOf(f *flag.Flag, err error) string {
	switch t := fmt.Sprintf("%T", f.Value); {
	case strings.Contains(t, "bool"):
		return "want true or false"
	case strings.Contains(t, "int"):
		return "want a whole number"
	case strings.Contains(t, "duration"):
		return "want a duration such as \"10s\" or \"2m\""
	}
	return err.Error()
}

// unknownKey refuses a key no setting has, suggesting the nearest one.
func unknownKey(fs *flag.FlagSet, key string) error {
	best, bestDist := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(key, f.Name); d < bestDist {
			best, bestDist = f.Name, d
		}
	})
	if best != "" {
		return fmt.Errorf("unknown key; did you mean %q? (`parley config example` lists them all)", best)
	}
	return errors.New("unknown key (`parley config example` lists them all)")
}

// editDistance is Levenshtein's distance, for suggesting a key.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// configEntry is one `key = value` of the config file.
type configEntry struct {
	key    string
	line   int
	values []string // one, or an array's elements
}

// parseConfig reads a flat TOML file: top-level keys whose values are
// strings, booleans, numbers or arrays of them. go-toml's parser is used
// for its positions (the decoder into a map has none for keys).
func parseConfig(path string, data []byte) ([]configEntry, error) {
	var p unstable.Parser
	p.Reset(data)
	var out []configEntry
	seen := map[string]int{}
	for p.NextExpression() {
		e := p.Expression()
		key, line := keyOf(&p, e)
		if e.Kind == unstable.Table || e.Kind == unstable.ArrayTable {
			return nil, &fileError{file: path, line: line, err: errors.New("tables are not used: write every key at the top level")}
		}
		if e.Kind != unstable.KeyValue {
			continue
		}
		if first, dup := seen[key]; dup {
			return nil, &fileError{file: path, line: line, key: key, err: fmt.Errorf("set twice (first at line %d)", first)}
		}
		seen[key] = line
		values, err := valuesOf(e.Value())
		if err != nil {
			return nil, &fileError{file: path, line: line, key: key, err: err}
		}
		out = append(out, configEntry{key: key, line: line, values: values})
	}
	if err := p.Error(); err != nil {
		var m map[string]any
		var de *toml.DecodeError
		if errors.As(toml.Unmarshal(data, &m), &de) {
			row, _ := de.Position()
			return nil, &fileError{file: path, line: row, err: errors.New(de.Error())}
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return out, nil
}

// keyOf joins a possibly dotted key, and finds its line.
func keyOf(p *unstable.Parser, e *unstable.Node) (string, int) {
	var parts []string
	line := 0
	for it := e.Key(); it.Next(); {
		n := it.Node()
		parts = append(parts, string(n.Data))
		if line == 0 && n.Raw.Length > 0 {
			line = p.Shape(n.Raw).Start.Line
		}
	}
	return strings.Join(parts, "."), line
}

func valuesOf(v *unstable.Node) ([]string, error) {
	switch v.Kind {
	case unstable.String, unstable.Bool, unstable.Float:
		return []string{string(v.Data)}, nil
	case unstable.Integer:
		return []string{strings.ReplaceAll(string(v.Data), "_", "")}, nil
	case unstable.Array:
		var out []string
		for it := v.Children(); it.Next(); {
			vs, err := valuesOf(it.Node())
			if err != nil || len(vs) != 1 {
				return nil, errors.New("an array holds only strings, numbers or booleans")
			}
			out = append(out, vs[0])
		}
		return out, nil
	default:
		return nil, fmt.Errorf("a %s is not a setting's value: use a string, a number, a boolean or an array", v.Kind)
	}
}
