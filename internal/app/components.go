package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"parley.dev/parley/internal/jid"
)

// External components (XEP-0114), such as an app's push service
// (XEP-0357): --components-file names them with their secrets, and they
// connect to --component-listen.

// loadComponents reads a components file: one "domain secret" per line;
// blank lines and lines starting with # are skipped.
func loadComponents(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	comps := make(map[string]string)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"domain secret\"", path, n)
		}
		d, err := jid.Parse(fields[0])
		if err != nil || d.Local != "" || d.Resource != "" {
			return nil, fmt.Errorf("%s:%d: %q is not a domain", path, n, fields[0])
		}
		if len(fields[1]) < 16 {
			return nil, fmt.Errorf("%s:%d: the secret of %s is shorter than 16 characters", path, n, fields[0])
		}
		comps[d.Domain] = fields[1]
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return nil, errors.New(path + ": no component")
	}
	return comps, nil
}

// openComponents loads --components-file and listens on
// --component-listen; nothing without the file.
func (p *parley) openComponents() (map[string]string, error) {
	if p.cfg.ComponentsFile == "" {
		return nil, nil
	}
	comps, err := loadComponents(p.cfg.ComponentsFile)
	if err != nil {
		return nil, fmt.Errorf("--components-file: %w", err)
	}
	addr := p.cfg.ComponentListen
	if addr == "" {
		addr = "127.0.0.1:5347"
	}
	if p.components, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("--component-listen: %w", err)
	}
	return comps, nil
}

// serveComponents accepts component connections until the listener closes.
func (p *parley) serveComponents(ctx context.Context) {
	if p.components == nil {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			conn, err := p.components.Accept()
			if err != nil {
				return
			}
			go p.xmpp.ServeComponent(ctx, conn)
		}
	}()
}
