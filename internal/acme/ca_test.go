package acme_test

// A small ACME CA (RFC 8555) for the tests, written from the RFCs: a
// directory, nonces, accounts, orders, authorizations with a tls-alpn-01
// challenge (RFC 8737) that it validates by dialling the address the test
// says a name resolves to, finalization with a CSR and the certificate
// download. Requests are JWS (RFC 7515) signed with ES256, checked for
// nonce, URL and signature. Certificates chain to a root the test trusts
// through an intermediate.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var b64 = base64.RawURLEncoding

// idPeACMEIdentifier is the acmeIdentifier extension (RFC 8737 section 6.1).
var idPeACMEIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}

const termsURL = "https://ca.parley.test/terms"

type testCA struct {
	t     *testing.T
	srv   *httptest.Server
	roots *x509.CertPool // trusts the CA's root; for the test's clients

	rootCert, interCert *x509.Certificate
	interKey            *ecdsa.PrivateKey

	nonceMu sync.Mutex
	nonces  map[string]bool // issued, unused; guarded by nonceMu

	mu                             sync.Mutex
	seq                            int
	resolve                        map[string]string           // name -> host:port the validation dials; guarded by mu
	accounts                       map[string]*ecdsa.PublicKey // account URL -> key; guarded by mu
	orders                         map[string]*caOrder         // order URL -> order; guarded by mu
	authzs                         map[string]*caAuthz         // authz URL -> authz; guarded by mu
	chals                          map[string]*caAuthz         // challenge URL -> its authz; guarded by mu
	certs                          map[string][]byte           // certificate URL -> PEM chain; guarded by mu
	newOrders, validations, issued int                         // counters; guarded by mu
}

type caOrder struct {
	url, status, certURL string
	account              string
	names                []string
	authzs               []*caAuthz
}

type caAuthz struct {
	url, status, name, token string
	chalURL, chalStatus      string
	account                  string
	order                    *caOrder
}

func newTestCA(t *testing.T) *testCA {
	ca := &testCA{
		t: t, resolve: map[string]string{}, nonces: map[string]bool{}, accounts: map[string]*ecdsa.PublicKey{},
		orders: map[string]*caOrder{}, authzs: map[string]*caAuthz{}, chals: map[string]*caAuthz{}, certs: map[string][]byte{},
	}
	ca.makeHierarchy()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dir", ca.directory)
	mux.HandleFunc("/nonce", func(w http.ResponseWriter, r *http.Request) {
		ca.addNonce(w)
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.HandleFunc("POST /account", ca.newAccount)
	mux.HandleFunc("POST /account/{id}", ca.signed(func(w http.ResponseWriter, r *http.Request, acct string, p []byte) {
		ca.reply(w, http.StatusOK, map[string]any{"status": "valid"})
	}))
	mux.HandleFunc("POST /new-order", ca.signed(ca.newOrder))
	mux.HandleFunc("POST /order/{id}", ca.signed(ca.getOrder))
	mux.HandleFunc("POST /authz/{id}", ca.signed(ca.getAuthz))
	mux.HandleFunc("POST /chal/{id}", ca.signed(ca.postChallenge))
	mux.HandleFunc("POST /finalize/{id}", ca.signed(ca.finalize))
	mux.HandleFunc("POST /cert/{id}", ca.signed(ca.getCert))
	ca.srv = httptest.NewTLSServer(mux)
	t.Cleanup(ca.srv.Close)
	return ca
}

// directoryURL is what the ACME client is pointed at.
func (ca *testCA) directoryURL() string { return ca.srv.URL + "/dir" }

// client talks to the CA over TLS it trusts.
func (ca *testCA) client() *http.Client { return ca.srv.Client() }

// pointDNS makes the CA validate name by dialling addr.
func (ca *testCA) pointDNS(name, addr string) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.resolve[name] = addr
}

// counts returns how many orders were created, challenges validated and
// certificates issued.
func (ca *testCA) counts() (orders, validations, issued int) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.newOrders, ca.validations, ca.issued
}

func (ca *testCA) makeHierarchy() {
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca.interKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := func(cn string) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: serial(), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		}
	}
	rootTmpl := caTmpl("parley test ACME root")
	der, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		ca.t.Fatal(err)
	}
	ca.rootCert, _ = x509.ParseCertificate(der)
	der, err = x509.CreateCertificate(rand.Reader, caTmpl("parley test ACME intermediate"), ca.rootCert, ca.interKey.Public(), rootKey)
	if err != nil {
		ca.t.Fatal(err)
	}
	ca.interCert, _ = x509.ParseCertificate(der)
	ca.roots = x509.NewCertPool()
	ca.roots.AddCert(ca.rootCert)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	return n
}

func (ca *testCA) directory(w http.ResponseWriter, r *http.Request) {
	u := ca.srv.URL
	ca.reply(w, http.StatusOK, map[string]any{
		"newNonce": u + "/nonce", "newAccount": u + "/account", "newOrder": u + "/new-order",
		"revokeCert": u + "/revoke", "keyChange": u + "/key-change",
		"meta": map[string]any{"termsOfService": termsURL},
	})
}

func (ca *testCA) nextID() string {
	ca.seq++
	return fmt.Sprint(ca.seq)
}

func (ca *testCA) addNonce(w http.ResponseWriter) {
	raw := make([]byte, 16)
	rand.Read(raw)
	n := b64.EncodeToString(raw)
	ca.nonceMu.Lock()
	ca.nonces[n] = true
	ca.nonceMu.Unlock()
	w.Header().Set("Replay-Nonce", n)
}

func (ca *testCA) reply(w http.ResponseWriter, status int, v any) {
	ca.addNonce(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// problem answers an RFC 7807 problem document with an ACME error type.
func (ca *testCA) problem(w http.ResponseWriter, status int, typ, detail string) {
	ca.addNonce(w)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "urn:ietf:params:acme:error:" + typ, "detail": detail})
}

// jws is a request in the flattened JSON serialization (RFC 8555 6.2).
type jws struct{ Protected, Payload, Signature string }

type jwsHeader struct {
	Alg, Nonce, URL, Kid string
	JWK                  *jwk `json:"jwk"`
}

type jwk struct{ Kty, Crv, X, Y string }

// verify checks a request's JWS: ES256, a fresh nonce, the URL it was
// sent to, and the signature by the embedded key or the account's. It
// returns the header, the payload and the key.
func (ca *testCA) verify(r *http.Request) (*jwsHeader, []byte, *ecdsa.PublicKey, error) {
	if ct := r.Header.Get("Content-Type"); ct != "application/jose+json" {
		return nil, nil, nil, fmt.Errorf("content type %q", ct)
	}
	var msg jws
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&msg); err != nil {
		return nil, nil, nil, err
	}
	rawHdr, err := b64.DecodeString(msg.Protected)
	if err != nil {
		return nil, nil, nil, err
	}
	var hdr jwsHeader
	if err := json.Unmarshal(rawHdr, &hdr); err != nil {
		return nil, nil, nil, err
	}
	if hdr.Alg != "ES256" {
		return nil, nil, nil, fmt.Errorf("alg %q not supported", hdr.Alg)
	}
	if want := ca.srv.URL + r.URL.Path; hdr.URL != want {
		return nil, nil, nil, fmt.Errorf("signed for %q, sent to %q", hdr.URL, want)
	}
	ca.nonceMu.Lock()
	fresh := ca.nonces[hdr.Nonce]
	delete(ca.nonces, hdr.Nonce)
	ca.nonceMu.Unlock()
	ca.mu.Lock()
	key := ca.accounts[hdr.Kid]
	ca.mu.Unlock()
	if !fresh {
		return &hdr, nil, nil, errBadNonce
	}
	switch {
	case hdr.JWK != nil && hdr.Kid == "":
		if key, err = hdr.JWK.publicKey(); err != nil {
			return nil, nil, nil, err
		}
	case hdr.JWK == nil && key != nil:
	default:
		return nil, nil, nil, errors.New("need exactly one of jwk and a known kid")
	}
	sig, err := b64.DecodeString(msg.Signature)
	if err != nil || len(sig) != 64 {
		return nil, nil, nil, errors.New("malformed ES256 signature")
	}
	digest := sha256.Sum256([]byte(msg.Protected + "." + msg.Payload))
	if !ecdsa.Verify(key, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, nil, nil, errors.New("bad signature")
	}
	payload, err := b64.DecodeString(msg.Payload)
	return &hdr, payload, key, err
}

var errBadNonce = errors.New("stale or unknown nonce")

func (k *jwk) publicKey() (*ecdsa.PublicKey, error) {
	if k.Kty != "EC" || k.Crv != "P-256" {
		return nil, fmt.Errorf("key %s/%s not supported", k.Kty, k.Crv)
	}
	x, errX := b64.DecodeString(k.X)
	y, errY := b64.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("malformed EC key")
	}
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
}

// thumbprint is the RFC 7638 JWK thumbprint of an EC P-256 key.
func thumbprint(k *ecdsa.PublicKey) string {
	b, _ := k.Bytes()
	canon := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, b64.EncodeToString(b[1:33]), b64.EncodeToString(b[33:]))
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// signed wraps a handler of requests signed by a known account (kid).
func (ca *testCA) signed(h func(w http.ResponseWriter, r *http.Request, acct string, payload []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hdr, payload, _, err := ca.verify(r)
		switch {
		case errors.Is(err, errBadNonce):
			ca.problem(w, http.StatusBadRequest, "badNonce", err.Error())
		case err != nil:
			ca.problem(w, http.StatusBadRequest, "malformed", err.Error())
		case hdr.Kid == "":
			ca.problem(w, http.StatusBadRequest, "malformed", "kid required")
		default:
			h(w, r, hdr.Kid, payload)
		}
	}
}

func (ca *testCA) newAccount(w http.ResponseWriter, r *http.Request) {
	hdr, payload, key, err := ca.verify(r)
	if err != nil {
		ca.problem(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	if hdr.JWK == nil {
		ca.problem(w, http.StatusBadRequest, "malformed", "newAccount needs jwk")
		return
	}
	var req struct {
		TermsOfServiceAgreed bool
		Contact              []string
	}
	if err := json.Unmarshal(payload, &req); err != nil || !req.TermsOfServiceAgreed {
		ca.problem(w, http.StatusForbidden, "userActionRequired", "terms of service not agreed")
		return
	}
	ca.mu.Lock()
	status := http.StatusCreated
	var url string
	for u, k := range ca.accounts {
		if k.Equal(key) {
			url, status = u, http.StatusOK
		}
	}
	if url == "" {
		url = ca.srv.URL + "/account/" + ca.nextID()
		ca.accounts[url] = key
	}
	ca.mu.Unlock()
	w.Header().Set("Location", url)
	ca.reply(w, status, map[string]any{"status": "valid", "contact": req.Contact, "orders": url + "/orders"})
}

func (ca *testCA) newOrder(w http.ResponseWriter, r *http.Request, acct string, payload []byte) {
	var req struct {
		Identifiers []struct{ Type, Value string }
	}
	if err := json.Unmarshal(payload, &req); err != nil || len(req.Identifiers) == 0 {
		ca.problem(w, http.StatusBadRequest, "malformed", "no identifiers")
		return
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.newOrders++
	o := &caOrder{url: ca.srv.URL + "/order/" + ca.nextID(), status: "pending", account: acct}
	for _, id := range req.Identifiers {
		if id.Type != "dns" {
			ca.problem(w, http.StatusBadRequest, "rejectedIdentifier", id.Type)
			return
		}
		tok := make([]byte, 32)
		rand.Read(tok)
		z := &caAuthz{
			url: ca.srv.URL + "/authz/" + ca.nextID(), status: "pending", name: id.Value, account: acct,
			token: b64.EncodeToString(tok), chalURL: ca.srv.URL + "/chal/" + ca.nextID(), chalStatus: "pending", order: o,
		}
		o.names = append(o.names, id.Value)
		o.authzs = append(o.authzs, z)
		ca.authzs[z.url], ca.chals[z.chalURL] = z, z
	}
	ca.orders[o.url] = o
	w.Header().Set("Location", o.url)
	ca.reply(w, http.StatusCreated, ca.orderJSON(o))
}

// orderJSON renders o; mu held.
func (ca *testCA) orderJSON(o *caOrder) map[string]any {
	var ids []map[string]string
	var zs []string
	for _, z := range o.authzs {
		ids = append(ids, map[string]string{"type": "dns", "value": z.name})
		zs = append(zs, z.url)
	}
	v := map[string]any{
		"status": o.status, "expires": time.Now().Add(time.Hour).Format(time.RFC3339),
		"identifiers": ids, "authorizations": zs, "finalize": strings.Replace(o.url, "/order/", "/finalize/", 1),
	}
	if o.certURL != "" {
		v["certificate"] = o.certURL
	}
	return v
}

// lookup finds the object at the request's URL if acct owns it.
func lookup[T any](ca *testCA, m map[string]T, r *http.Request, owner func(T) string, acct string) (T, bool) {
	v, ok := m[ca.srv.URL+r.URL.Path]
	if !ok || owner(v) != acct {
		var zero T
		return zero, false
	}
	return v, true
}

func (ca *testCA) getOrder(w http.ResponseWriter, r *http.Request, acct string, _ []byte) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	o, ok := lookup(ca, ca.orders, r, func(o *caOrder) string { return o.account }, acct)
	if !ok {
		ca.problem(w, http.StatusNotFound, "malformed", "no such order")
		return
	}
	ca.reply(w, http.StatusOK, ca.orderJSON(o))
}

func (ca *testCA) getAuthz(w http.ResponseWriter, r *http.Request, acct string, payload []byte) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	z, ok := lookup(ca, ca.authzs, r, func(z *caAuthz) string { return z.account }, acct)
	if !ok {
		ca.problem(w, http.StatusNotFound, "malformed", "no such authorization")
		return
	}
	var req struct{ Status string }
	if len(payload) > 0 && json.Unmarshal(payload, &req) == nil && req.Status == "deactivated" {
		z.status = "deactivated"
	}
	ca.reply(w, http.StatusOK, map[string]any{
		"status": z.status, "expires": time.Now().Add(time.Hour).Format(time.RFC3339),
		"identifier": map[string]string{"type": "dns", "value": z.name},
		"challenges": []any{ca.chalJSON(z)},
	})
}

// chalJSON renders z's tls-alpn-01 challenge; mu held.
func (ca *testCA) chalJSON(z *caAuthz) map[string]any {
	return map[string]any{"type": "tls-alpn-01", "url": z.chalURL, "token": z.token, "status": z.chalStatus}
}

// postChallenge starts the validation (RFC 8555 7.5.1) and answers at
// once with the challenge "processing"; the result comes by polling.
func (ca *testCA) postChallenge(w http.ResponseWriter, r *http.Request, acct string, _ []byte) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	z, ok := lookup(ca, ca.chals, r, func(z *caAuthz) string { return z.account }, acct)
	if !ok {
		ca.problem(w, http.StatusNotFound, "malformed", "no such challenge")
		return
	}
	if z.chalStatus == "pending" {
		z.chalStatus = "processing"
		keyAuth := z.token + "." + thumbprint(ca.accounts[acct])
		go ca.validate(z, ca.resolve[z.name], keyAuth)
	}
	ca.reply(w, http.StatusOK, ca.chalJSON(z))
}

// validate is TLS-ALPN-01 (RFC 8737 section 3) against addr, and records
// the outcome on the challenge, its authorization and its order.
func (ca *testCA) validate(z *caAuthz, addr, keyAuth string) {
	err := checkALPNChallenge(addr, z.name, keyAuth)
	if err != nil {
		ca.t.Logf("test CA: tls-alpn-01 for %s failed: %v", z.name, err)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.validations++
	if err != nil {
		z.chalStatus, z.status, z.order.status = "invalid", "invalid", "invalid"
		return
	}
	z.chalStatus, z.status = "valid", "valid"
	for _, oz := range z.order.authzs {
		if oz.status != "valid" {
			return
		}
	}
	z.order.status = "ready"
}

func checkALPNChallenge(addr, name, keyAuth string) error {
	if addr == "" {
		return fmt.Errorf("%s does not resolve", name)
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{
		ServerName: name, NextProtos: []string{"acme-tls/1"},
		// The challenge certificate is self-signed; what proves control
		// is the extension checked below.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	st := conn.ConnectionState()
	if st.NegotiatedProtocol != "acme-tls/1" {
		return fmt.Errorf("ALPN %q negotiated", st.NegotiatedProtocol)
	}
	leaf := st.PeerCertificates[0]
	if !slices.Equal(leaf.DNSNames, []string{name}) || len(leaf.IPAddresses)+len(leaf.EmailAddresses)+len(leaf.URIs) != 0 {
		return fmt.Errorf("subjectAltName must be exactly %s, is %v", name, leaf.DNSNames)
	}
	want := sha256.Sum256([]byte(keyAuth))
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(idPeACMEIdentifier) {
			continue
		}
		var got []byte
		rest, err := asn1.Unmarshal(ext.Value, &got)
		switch {
		case !ext.Critical:
			return errors.New("acmeIdentifier not critical")
		case err != nil || len(rest) != 0:
			return fmt.Errorf("acmeIdentifier not an OCTET STRING: %v", err)
		case !bytes.Equal(got, want[:]):
			return errors.New("acmeIdentifier does not match the key authorization")
		}
		return nil
	}
	return errors.New("no acmeIdentifier extension")
}

// finalize issues the certificate for a ready order's CSR.
func (ca *testCA) finalize(w http.ResponseWriter, r *http.Request, acct string, payload []byte) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	o, ok := ca.orders[strings.Replace(ca.srv.URL+r.URL.Path, "/finalize/", "/order/", 1)]
	if !ok || o.account != acct {
		ca.problem(w, http.StatusNotFound, "malformed", "no such order")
		return
	}
	if o.status != "ready" {
		ca.problem(w, http.StatusForbidden, "orderNotReady", "order is "+o.status)
		return
	}
	var req struct{ CSR string }
	der, err := []byte(nil), json.Unmarshal(payload, &req)
	if err == nil {
		der, err = b64.DecodeString(req.CSR)
	}
	csr, err := parseCSR(der, err)
	if err == nil && !sameNames(csr, o.names) {
		err = fmt.Errorf("CSR names %v, order %v", csr.DNSNames, o.names)
	}
	if err != nil {
		ca.problem(w, http.StatusBadRequest, "badCSR", err.Error())
		return
	}
	chain, err := ca.issue(csr)
	if err != nil {
		ca.problem(w, http.StatusInternalServerError, "serverInternal", err.Error())
		return
	}
	o.status, o.certURL = "valid", ca.srv.URL+"/cert/"+ca.nextID()
	ca.certs[o.certURL] = chain
	ca.issued++
	w.Header().Set("Location", o.url)
	ca.reply(w, http.StatusOK, ca.orderJSON(o))
}

func parseCSR(der []byte, err error) (*x509.CertificateRequest, error) {
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, err
	}
	return csr, csr.CheckSignature()
}

func sameNames(csr *x509.CertificateRequest, names []string) bool {
	got := slices.Clone(csr.DNSNames)
	if cn := csr.Subject.CommonName; cn != "" && !slices.Contains(got, cn) {
		got = append(got, cn)
	}
	want := slices.Clone(names)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}

// issue signs a 90-day leaf with the intermediate; the PEM chain is the
// leaf then the intermediate.
func (ca *testCA) issue(csr *x509.CertificateRequest) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: csr.DNSNames[0]}, DNSNames: csr.DNSNames,
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.interCert, csr.PublicKey, ca.interKey)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: ca.interCert.Raw})
	return out.Bytes(), nil
}

func (ca *testCA) getCert(w http.ResponseWriter, r *http.Request, acct string, _ []byte) {
	ca.mu.Lock()
	chain, ok := ca.certs[ca.srv.URL+r.URL.Path]
	ca.mu.Unlock()
	if !ok {
		ca.problem(w, http.StatusNotFound, "malformed", "no such certificate")
		return
	}
	ca.addNonce(w)
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	io.Copy(w, bytes.NewReader(chain))
}
