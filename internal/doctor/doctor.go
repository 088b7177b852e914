// Package doctor checks a parley deployment from outside, as a new operator
// would: DNS, the certificate, the one port over TCP and UDP, the clock
// (tokens carry expiry times), the data folder's permissions and free disk.
// Each failed check says what to fix.
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pion/stun/v4"
	"golang.org/x/sys/unix"
)

// Config is what to check.
type Config struct {
	Domain   string // the XMPP and web domain; required
	PublicIP string // the address in ICE candidates; default: what Domain resolves to
	Port     int    // the one port (TCP and UDP); required
	DataDir  string // parley's state folder; "" skips the folder checks
	// SelfSigned says the deployment uses parley's own self-signed
	// certificate: the certificate check then only checks the name and dates.
	SelfSigned bool
	RootCAs    *x509.CertPool                                           // trusted roots; default the system's
	Resolver   func(ctx context.Context, host string) ([]string, error) // default net.DefaultResolver.LookupHost
	Now        func() time.Time                                         // default time.Now
	Timeout    time.Duration                                            // per network check; default 5 s
	MinFree    uint64                                                   // free bytes wanted on the data folder's disk; default 1 GiB
}

// Result is one check's outcome.
type Result struct {
	Check string // a short name: dns, certificate, tcp, udp, clock, data, disk
	OK    bool
	Info  string // what was found
	Fix   string // what to do, when not OK
}

// Run runs every check and returns their results in order.
func Run(ctx context.Context, cfg Config) []Result {
	cfg.defaults()
	ip, dns := checkDNS(ctx, cfg)
	out := []Result{dns}
	out = append(out, checkTLS(ctx, cfg, ip), checkUDP(cfg, ip), checkClock(), checkData(cfg), checkDisk(cfg))
	return out
}

func (c *Config) defaults() {
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver.LookupHost
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MinFree == 0 {
		c.MinFree = 1 << 30
	}
}

// checkDNS resolves the domain and compares it with the public address.
// It returns the address to test the port on.
func checkDNS(ctx context.Context, cfg Config) (string, Result) {
	r := Result{Check: "dns"}
	if a, err := netip.ParseAddr(cfg.Domain); err == nil {
		r.OK, r.Info = true, "the domain is an IP address"
		return a.String(), r
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	addrs, err := cfg.Resolver(ctx, cfg.Domain)
	if err != nil || len(addrs) == 0 {
		r.Info = fmt.Sprintf("%s does not resolve: %v", cfg.Domain, err)
		r.Fix = fmt.Sprintf("add an A (or AAAA) record for %s pointing at this server", cfg.Domain)
		return cfg.PublicIP, r
	}
	r.Info = fmt.Sprintf("%s resolves to %v", cfg.Domain, addrs)
	if cfg.PublicIP == "" {
		r.OK = true
		return addrs[0], r
	}
	for _, a := range addrs {
		if a == cfg.PublicIP {
			r.OK = true
			return a, r
		}
	}
	r.Fix = fmt.Sprintf("point %s at %s (public-ip), or set public-ip to the address clients reach", cfg.Domain, cfg.PublicIP)
	return cfg.PublicIP, r
}

// checkTLS connects to the port over TCP, checks the certificate and asks
// for /health over HTTPS.
func checkTLS(ctx context.Context, cfg Config, ip string) Result {
	r := Result{Check: "tcp"}
	addr := net.JoinHostPort(ip, strconv.Itoa(cfg.Port))
	d := &net.Dialer{Timeout: cfg.Timeout}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: cfg.Domain, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		r.Info = fmt.Sprintf("TLS on %s: %v", addr, err)
		r.Fix = fmt.Sprintf("let TCP port %d in (firewall, security group) and check that parley runs (systemctl status parley)", cfg.Port)
		return r
	}
	defer conn.Close()
	if err := verifyCert(cfg, conn.ConnectionState()); err != nil {
		return Result{Check: "certificate", Info: err.Error(), Fix: "use a certificate for " + cfg.Domain + " from a CA (acme = true, or tls-cert/tls-key), valid now"}
	}
	client := &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: cfg.Domain, InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addr + "/health")
	if err != nil {
		r.Info = fmt.Sprintf("GET /health: %v", err)
		r.Fix = "check parley's log: the port answers TLS but not HTTPS"
		return r
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.Info = fmt.Sprintf("GET /health: %s %s", resp.Status, body)
		r.Fix = "parley is starting or draining; check its log"
		return r
	}
	r.OK, r.Info = true, fmt.Sprintf("TCP %s: certificate for %s, /health ok", addr, cfg.Domain)
	return r
}

// verifyCert checks the name and dates, and the chain unless self-signed.
func verifyCert(cfg Config, cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	now := cfg.Now()
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return fmt.Errorf("the certificate is valid from %s to %s, not now", leaf.NotBefore.Format(time.DateOnly), leaf.NotAfter.Format(time.DateOnly))
	}
	if err := leaf.VerifyHostname(cfg.Domain); err != nil {
		return fmt.Errorf("the certificate is not for %s: %v", cfg.Domain, err)
	}
	if cfg.SelfSigned {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: cfg.Domain, Roots: cfg.RootCAs, Intermediates: inter, CurrentTime: now})
	if err != nil {
		return fmt.Errorf("browsers will refuse the certificate: %v", err)
	}
	return nil
}

// checkUDP sends a STUN Binding request to the port over UDP: parley's
// STUN server answers it with the address it saw.
func checkUDP(cfg Config, ip string) Result {
	r := Result{Check: "udp"}
	addr := net.JoinHostPort(ip, strconv.Itoa(cfg.Port))
	fix := fmt.Sprintf("let UDP port %d in: media and STUN/TURN go there (TCP alone makes every call relayed or ICE-TCP)", cfg.Port)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		r.Info, r.Fix = err.Error(), fix
		return r
	}
	defer conn.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ { // UDP: a lost datagram is not a closed port
		conn.SetDeadline(time.Now().Add(cfg.Timeout / 3))
		if _, err = conn.Write(req.Raw); err != nil {
			continue
		}
		var n int
		if n, err = conn.Read(buf); err != nil {
			continue
		}
		resp := &stun.Message{Raw: buf[:n]}
		var xor stun.XORMappedAddress
		if err = resp.Decode(); err == nil && resp.Type == stun.BindingSuccess && xor.GetFrom(resp) == nil {
			r.OK, r.Info = true, fmt.Sprintf("UDP %s: STUN answered, we are seen as %s", addr, xor.IP)
			return r
		}
		err = fmt.Errorf("not a STUN answer")
	}
	r.Info, r.Fix = fmt.Sprintf("UDP %s: no STUN answer (%v)", addr, err), fix
	return r
}

// checkClock asks the kernel whether the clock is synchronized: tokens
// (TURN credentials, JWTs) carry expiry times that a drifting clock breaks.
func checkClock() Result {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	r := Result{Check: "clock"}
	switch {
	case err != nil:
		r.Info, r.Fix = fmt.Sprintf("adjtimex: %v", err), "check that NTP runs (timedatectl)"
	case state == unix.TIME_ERROR || tx.Status&unix.STA_UNSYNC != 0:
		r.Info, r.Fix = "the clock is not synchronized", "turn NTP on: timedatectl set-ntp true (or install chrony)"
	default:
		r.OK, r.Info = true, fmt.Sprintf("synchronized, estimated error %d µs", tx.Esterror)
	}
	return r
}

// checkData checks that the data folder and its files are private.
func checkData(cfg Config) Result {
	r := Result{Check: "data"}
	if cfg.DataDir == "" {
		r.OK, r.Info = true, "no data folder given"
		return r
	}
	st, err := os.Stat(cfg.DataDir)
	if err != nil {
		r.Info, r.Fix = err.Error(), "create it, or give --data the folder parley serve uses"
		return r
	}
	if st.Mode().Perm()&0o077 != 0 {
		r.Info, r.Fix = fmt.Sprintf("%s is %v: others can read accounts and secrets", cfg.DataDir, st.Mode().Perm()), "chmod 700 "+cfg.DataDir
		return r
	}
	// The folder being private protects what it holds from reading; a file
	// others may write is still a door (a replaced accounts file).
	var loose []string
	filepath.WalkDir(cfg.DataDir, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			if info, e := d.Info(); e == nil && info.Mode().Perm()&0o022 != 0 {
				loose = append(loose, p)
			}
		}
		return nil
	})
	if len(loose) > 0 {
		r.Info, r.Fix = fmt.Sprintf("writable by others: %v", loose), "chmod go-w on those files"
		return r
	}
	r.OK, r.Info = true, cfg.DataDir+" is private"
	return r
}

// checkDisk checks the free space where the data folder lives.
func checkDisk(cfg Config) Result {
	r := Result{Check: "disk"}
	dir := cfg.DataDir
	if dir == "" {
		dir = "."
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		r.Info = err.Error()
		return r
	}
	free := st.Bavail * uint64(st.Bsize)
	r.Info = fmt.Sprintf("%.1f GiB free", float64(free)/(1<<30))
	if free < cfg.MinFree {
		r.Fix = "free some disk: parley needs room for its state (and recordings)"
		return r
	}
	r.OK = true
	return r
}
