package deps

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// preinstalled are programs every machine of this kind has before
// scripts/test.sh runs (the toolchains the script itself needs).
var preinstalled = map[string]bool{
	"go": true, "node": true, "npm": true, "npx": true, "bash": true, "sh": true,
}

// Patterns that name a program a test starts, by kind of source file.
var (
	goPatterns = []*regexp.Regexp{
		regexp.MustCompile(`exec\.LookPath\("([^"]+)"\)`),
		regexp.MustCompile(`exec\.Command\("([^"]+)"`),
		regexp.MustCompile(`exec\.CommandContext\([^,]+,\s*"([^"]+)"`),
		regexp.MustCompile(`"/usr/s?bin/([A-Za-z0-9._+-]+)"`),
	}
	jsPatterns = []*regexp.Regexp{
		regexp.MustCompile(`(?:spawn|spawnSync|execFile|execFileSync)\(\s*['"]([^'"]+)['"]`),
		regexp.MustCompile(`['"]/usr/s?bin/([A-Za-z0-9._+-]+)['"]`),
	}
	depLine = regexp.MustCompile(`^command -v ([A-Za-z0-9._+-]+) .*\|\| need\+=\(([A-Za-z0-9._+-]+)\)\s*$`)
)

// programsIn returns the programs that src starts, judged by its extension.
func programsIn(name, src string) []string {
	var pats []*regexp.Regexp
	switch filepath.Ext(name) {
	case ".go":
		pats = goPatterns
	case ".js", ".mjs":
		pats = jsPatterns
	default:
		return nil
	}
	var out []string
	for _, p := range pats {
		for _, m := range p.FindAllStringSubmatch(src, -1) {
			out = append(out, filepath.Base(m[1]))
		}
	}
	return out
}

// installedBy parses test.sh's "command -v PROGRAM ... || need+=(PACKAGE)"
// lines.
func installedBy(script string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(script, "\n") {
		if d := depLine.FindStringSubmatch(strings.TrimSpace(line)); d != nil {
			m[d[1]] = d[2]
		}
	}
	return m
}

// missing lists "file: program" for each program started in files that the
// script does not install.
func missing(files map[string]string, installed map[string]string) []string {
	var out []string
	for name, src := range files {
		for _, prog := range programsIn(name, src) {
			if _, ok := installed[prog]; !ok && !preinstalled[prog] {
				out = append(out, name+": "+prog)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestEveryProgramATestRunsIsInstalledByTestScript(t *testing.T) {
	root := filepath.Join("..", "..")
	script, err := os.ReadFile(filepath.Join(root, "scripts", "test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	installed := installedBy(string(script))
	if installed["turnserver"] != "coturn" || installed["chromium"] != "chromium" {
		t.Fatalf("test.sh's install lines did not parse: %v", installed)
	}
	files := map[string]string{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", ".build", "scripts", "deps":
				return filepath.SkipDir
			}
			return nil
		}
		if programsIn(p, "") == nil && filepath.Ext(p) != ".go" && filepath.Ext(p) != ".js" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[p] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("found only %d source files under %s", len(files), root)
	}
	for _, m := range missing(files, installed) {
		t.Errorf(`%s is started by a test but scripts/test.sh does not install it: add a line "command -v PROGRAM ... || need+=(PACKAGE)"`, m)
	}
}

func TestMissingProgramIsNamed(t *testing.T) {
	installed := installedBy("command -v turnserver >/dev/null 2>&1 || need+=(coturn)\n")
	files := map[string]string{
		"a_test.go":  `bin, _ := exec.LookPath("turnserver"); exec.CommandContext(ctx, "sipp", "-sn")`,
		"b.test.js":  `spawn('baresip', ['-f', dir]); const x = '/usr/bin/chromium';`,
		"c_test.go":  `exec.Command("go", "build")`,
		"README.txt": `exec.Command("ignored")`,
	}
	got := strings.Join(missing(files, installed), ",")
	want := "a_test.go: sipp,b.test.js: baresip,b.test.js: chromium"
	if got != want {
		t.Fatalf("missing = %q, want %q", got, want)
	}
}
