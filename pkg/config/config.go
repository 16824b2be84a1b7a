// Package config reads the signaling server's configuration from flags and
// PARLEY_* environment variables. Every setting has a default that runs the
// embedded single-binary install; flags override the environment.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the signaling server's configuration.
type Config struct {
	Addr          string        // listen address (PARLEY_ADDR)
	PublicURL     string        // how browsers reach this server (PARLEY_PUBLIC_URL)
	DataDir       string        // SQLite file, generated secrets (PARLEY_DATA_DIR)
	DatabaseURL   string        // postgres://… or a SQLite path (PARLEY_DATABASE_URL)
	Secret        string        // visitor token signing key (PARLEY_SECRET); generated into DataDir when empty
	AdminEmail    string        // first-run admin (PARLEY_ADMIN_EMAIL)
	AdminPassword string        // first-run admin password (PARLEY_ADMIN_PASSWORD); generated when empty
	LogLevel      string        // debug, info, warn, error (PARLEY_LOG_LEVEL)
	LogFormat     string        // text or json (PARLEY_LOG_FORMAT)
	ShutdownGrace time.Duration // time to drain connections on SIGTERM (PARLEY_SHUTDOWN_GRACE)
	Demo          bool          // serve /demo (PARLEY_DEMO)
	RedisURL      string        // redis://… for shared rate limits (PARLEY_REDIS_URL); empty: in process
	RateLimits    bool          // enforce rate limits (PARLEY_RATE_LIMITS); off only for benchmarks
}

// Load parses args (without the program name) over the environment.
func Load(args []string, getenv func(string) string) (Config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	var c Config
	fs := flag.NewFlagSet("signaling", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", env("PARLEY_ADDR", ":8080"), "listen address [PARLEY_ADDR]")
	fs.StringVar(&c.PublicURL, "public-url", env("PARLEY_PUBLIC_URL", ""), "URL browsers use to reach this server; default http://localhost:PORT [PARLEY_PUBLIC_URL]")
	fs.StringVar(&c.DataDir, "data-dir", env("PARLEY_DATA_DIR", "parley-data"), "directory for the SQLite database and generated secrets [PARLEY_DATA_DIR]")
	fs.StringVar(&c.DatabaseURL, "database-url", env("PARLEY_DATABASE_URL", ""), "postgres://… for PostgreSQL; default SQLite in the data dir [PARLEY_DATABASE_URL]")
	fs.StringVar(&c.Secret, "secret", env("PARLEY_SECRET", ""), "key that signs visitor tokens (≥ 32 chars; same on every node); default generated into the data dir [PARLEY_SECRET]")
	fs.StringVar(&c.AdminEmail, "admin-email", env("PARLEY_ADMIN_EMAIL", "admin@parley.local"), "first-run admin email [PARLEY_ADMIN_EMAIL]")
	fs.StringVar(&c.AdminPassword, "admin-password", env("PARLEY_ADMIN_PASSWORD", ""), "first-run admin password; default generated and printed once [PARLEY_ADMIN_PASSWORD]")
	fs.StringVar(&c.LogLevel, "log-level", env("PARLEY_LOG_LEVEL", "info"), "debug, info, warn or error [PARLEY_LOG_LEVEL]")
	fs.StringVar(&c.LogFormat, "log-format", env("PARLEY_LOG_FORMAT", "text"), "text or json [PARLEY_LOG_FORMAT]")
	grace, err := time.ParseDuration(env("PARLEY_SHUTDOWN_GRACE", "10s"))
	if err != nil {
		return c, fmt.Errorf("PARLEY_SHUTDOWN_GRACE: %w", err)
	}
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", grace, "time to drain connections on SIGTERM [PARLEY_SHUTDOWN_GRACE]")
	demo, err := parseBool(env("PARLEY_DEMO", "true"))
	if err != nil {
		return c, fmt.Errorf("PARLEY_DEMO: %w", err)
	}
	fs.BoolVar(&c.Demo, "demo", demo, "serve the demo page at /demo [PARLEY_DEMO]")
	fs.StringVar(&c.RedisURL, "redis-url", env("PARLEY_REDIS_URL", ""), "redis://host:6379/0 to share rate limits across nodes; default in process [PARLEY_REDIS_URL]")
	limits, err := parseBool(env("PARLEY_RATE_LIMITS", "on"))
	if err != nil {
		return c, fmt.Errorf("PARLEY_RATE_LIMITS: %w", err)
	}
	fs.BoolVar(&c.RateLimits, "rate-limits", limits, "enforce rate limits on sign-in, visitor sessions and messages; turn off only to benchmark [PARLEY_RATE_LIMITS]")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.complete()
}

func (c *Config) complete() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("addr %q: %w", c.Addr, err)
	}
	if c.PublicURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.PublicURL = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("public URL %q must be http(s)://host[:port]", c.PublicURL)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.DatabaseURL == "" {
		c.DatabaseURL = filepath.Join(c.DataDir, "parley.db")
	}
	if c.Secret != "" && len(c.Secret) < 32 {
		return errors.New("PARLEY_SECRET must be at least 32 characters")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log format %q: want text or json", c.LogFormat)
	}
	return nil
}

// PublicOrigin is the scheme://host[:port] of PublicURL.
func (c Config) PublicOrigin() string {
	u, _ := url.Parse(c.PublicURL)
	return u.Scheme + "://" + u.Host
}

// Postgres reports whether the store is PostgreSQL.
func (c Config) Postgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// FromEnv loads from os.Args and os.Getenv.
func FromEnv() (Config, error) { return Load(os.Args[1:], os.Getenv) }

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "yes":
		return true, nil
	case "off", "no":
		return false, nil
	}
	return strconv.ParseBool(s)
}
