package service

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/config"
)

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "parley test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// The whole node serves HTTPS with a configured certificate: HSTS on every
// answer, Secure session cookies, and a refused plain-HTTP client.
func TestServesHTTPSWithCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // Run listens itself
	cfg, err := config.Load([]string{"-addr", addr, "-tls-cert", certFile, "-tls-key", keyFile, "-data-dir", dir,
		"-admin-password", adminPassword, "-rtc=false"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PublicURL != "https://"+addr {
		t.Fatalf("public URL %q, want https by default under TLS", cfg.PublicURL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	}()

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var res *http.Response
	for deadline := time.Now().Add(30 * time.Second); ; {
		if res, err = hc.Get(cfg.PublicURL + "/healthz"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HTTPS not up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.Body.Close()
	if res.TLS == nil || !strings.HasPrefix(res.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("healthz over TLS %v, HSTS %q", res.TLS != nil, res.Header.Get("Strict-Transport-Security"))
	}
	res, err = hc.Do(loginRequest(cfg.PublicURL, "admin@parley.local", adminPassword))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login over TLS: %v %v", err, res)
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if !ck.Secure {
			t.Fatalf("cookie %s is not Secure under TLS", ck.Name)
		}
	}
	if len(res.Cookies()) != 2 {
		t.Fatalf("cookies: %v", res.Cookies())
	}
	if res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz"); err == nil && res.StatusCode == 200 {
		t.Fatal("plain HTTP answered on the TLS port")
	}
}

func TestTLSConfigErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"cert without key": {"-tls-cert", "c.pem"},
		"key without cert": {"-tls-key", "k.pem"},
		"files and ACME":   {"-tls-cert", "c.pem", "-tls-key", "k.pem", "-acme-host", "chat.example.com"},
	} {
		if _, err := config.Load(append([]string{"-data-dir", t.TempDir()}, args...), func(string) string { return "" }); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	cfg, err := config.Load([]string{"-acme-host", "chat.example.com", "-data-dir", t.TempDir()}, func(string) string { return "" })
	if err != nil || cfg.PublicURL != "https://chat.example.com" {
		t.Fatalf("ACME public URL %q (%v)", cfg.PublicURL, err)
	}
}
