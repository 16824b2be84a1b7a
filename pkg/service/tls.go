package service

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"

	"golang.org/x/crypto/acme/autocert"

	"github.com/parleychat/parley/pkg/config"
)

// serveHTTP serves srv on ln: HTTPS (and so WSS) with the configured
// certificate, or with one obtained by ACME for PARLEY_ACME_HOST, else plain
// HTTP (for a TLS-terminating proxy in front, or local use).
func serveHTTP(srv *http.Server, ln net.Listener, cfg config.Config, log *slog.Logger) error {
	switch {
	case cfg.TLSCert != "":
		// Loaded before serving, so a wrong path fails the start at once.
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("PARLEY_TLS_CERT / PARLEY_TLS_KEY: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		log.Info("serving HTTPS", "cert", cfg.TLSCert)
		return srv.ServeTLS(ln, "", "")
	case cfg.ACMEHost != "":
		// TLS-ALPN-01: the CA checks this very port, so it must be 443. The
		// account key and certificates are cached in the data dir (0700).
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(cfg.ACMEHost),
			Cache:      autocert.DirCache(filepath.Join(cfg.DataDir, "acme")),
		}
		srv.TLSConfig = m.TLSConfig()
		srv.TLSConfig.MinVersion = tls.VersionTLS12
		log.Info("serving HTTPS with an ACME certificate", "host", cfg.ACMEHost)
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}
