package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/testcert"
)

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	p := testcert.New(t, "parley test")
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, b := range map[string][]byte{certFile: p.CertPEM, keyFile: p.KeyPEM} {
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, p.Pool
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
