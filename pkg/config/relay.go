package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// MinRelaySecret is the shortest PARLEY_RELAY_SECRET accepted: the secret
// is all that stands between the network and the relays' control links.
const MinRelaySecret = 32

// Relay is the configuration of the standalone relay process (go run
// ./relay). Its WebRTC knobs are the signaling server's (PARLEY_RTC_*, read
// into RTC by the same code), so an operator moving the relay out of the
// signaling process keeps the same settings.
type Relay struct {
	ID            string        // names this relay in the registry (PARLEY_RELAY_ID); default random per start
	Addr          string        // listen address for /control, /healthz, /readyz, /metrics (PARLEY_RELAY_ADDR)
	ControlURL    string        // how signaling nodes reach Addr (PARLEY_RELAY_CONTROL_URL)
	SignalingURLs []string      // signaling nodes (or their load balancer) to register with (PARLEY_RELAY_SIGNALING_URLS)
	Secret        string        // shared with signaling's PARLEY_RELAY_SECRET; never logged
	Heartbeat     time.Duration // how often the relay reports its load (PARLEY_RELAY_HEARTBEAT)
	LogLevel      string        // PARLEY_LOG_LEVEL
	LogFormat     string        // PARLEY_LOG_FORMAT
	ShutdownGrace time.Duration // PARLEY_SHUTDOWN_GRACE: time for clients to move on SIGTERM

	// With a PostgreSQL store and Redis (the fleet's), the relay commits
	// and fans out the chat of its data channels itself; without them it
	// forwards the frames to signaling.
	DatabaseURL    string // PARLEY_DATABASE_URL: postgres://… (the fleet's)
	RedisURL       string // PARLEY_REDIS_URL: the fleet's bus
	EncryptionKeys string // PARLEY_ENCRYPTION_KEYS: signaling's keys (message bodies are sealed); never logged
	RateLimits     bool   // PARLEY_RATE_LIMITS: signaling's message limits on the sends the relay commits

	// RTC holds the WebRTC settings (the RTC* fields of a signaling Config).
	RTC Config
}

// LoadRelay parses the relay's args (without the program name) over the
// environment.
func LoadRelay(args []string, getenv func(string) string) (Relay, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	var r Relay
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.StringVar(&r.ID, "id", env("PARLEY_RELAY_ID", ""), "this relay's name in the registry; default random at each start [PARLEY_RELAY_ID]")
	fs.StringVar(&r.Addr, "addr", env("PARLEY_RELAY_ADDR", ":8090"), "listen address of the control link and health endpoints [PARLEY_RELAY_ADDR]")
	fs.StringVar(&r.ControlURL, "control-url", env("PARLEY_RELAY_CONTROL_URL", ""), "URL signaling nodes use to reach this relay; default http://127.0.0.1:PORT [PARLEY_RELAY_CONTROL_URL]")
	r.SignalingURLs = splitList(env("PARLEY_RELAY_SIGNALING_URLS", "http://127.0.0.1:8080"))
	fs.Func("signaling-urls", "signaling nodes (or their load balancer) to register with (comma-separated) [PARLEY_RELAY_SIGNALING_URLS]",
		func(v string) error { r.SignalingURLs = splitList(v); return nil })
	fs.StringVar(&r.Secret, "secret", env("PARLEY_RELAY_SECRET", ""), "shared secret, the same as signaling's PARLEY_RELAY_SECRET (≥ 32 chars) [PARLEY_RELAY_SECRET]")
	beat, err := time.ParseDuration(env("PARLEY_RELAY_HEARTBEAT", "2s"))
	if err != nil {
		return r, fmt.Errorf("PARLEY_RELAY_HEARTBEAT: %w", err)
	}
	fs.DurationVar(&r.Heartbeat, "heartbeat", beat, "how often to report load to signaling; a relay silent for 3 heartbeats is dead [PARLEY_RELAY_HEARTBEAT]")
	fs.StringVar(&r.LogLevel, "log-level", env("PARLEY_LOG_LEVEL", "info"), "debug, info, warn or error [PARLEY_LOG_LEVEL]")
	fs.StringVar(&r.LogFormat, "log-format", env("PARLEY_LOG_FORMAT", "text"), "text or json [PARLEY_LOG_FORMAT]")
	grace, err := time.ParseDuration(env("PARLEY_SHUTDOWN_GRACE", "10s"))
	if err != nil {
		return r, fmt.Errorf("PARLEY_SHUTDOWN_GRACE: %w", err)
	}
	fs.DurationVar(&r.ShutdownGrace, "shutdown-grace", grace, "time to let clients move on SIGTERM [PARLEY_SHUTDOWN_GRACE]")
	fs.StringVar(&r.DatabaseURL, "database-url", env("PARLEY_DATABASE_URL", ""), "the fleet's postgres://… store; with -redis-url the relay commits chat itself [PARLEY_DATABASE_URL]")
	fs.StringVar(&r.RedisURL, "redis-url", env("PARLEY_REDIS_URL", ""), "the fleet's redis://… bus [PARLEY_REDIS_URL]")
	r.EncryptionKeys = getenv("PARLEY_ENCRYPTION_KEYS")
	limits, err := parseBool(env("PARLEY_RATE_LIMITS", "on"))
	if err != nil {
		return r, fmt.Errorf("PARLEY_RATE_LIMITS: %w", err)
	}
	fs.BoolVar(&r.RateLimits, "rate-limits", limits, "enforce message rate limits on the sends this relay commits; turn off only to benchmark [PARLEY_RATE_LIMITS]")
	if err := r.RTC.relayFlags(fs, env); err != nil {
		return r, err
	}
	if err := fs.Parse(args); err != nil {
		return r, err
	}
	return r, r.complete()
}

func (r *Relay) complete() error {
	if len(r.Secret) < MinRelaySecret {
		return fmt.Errorf("PARLEY_RELAY_SECRET must be set to at least %d characters (the same on signaling)", MinRelaySecret)
	}
	if len(r.SignalingURLs) == 0 {
		return errors.New("PARLEY_RELAY_SIGNALING_URLS: at least one signaling URL")
	}
	var first *url.URL
	for i, s := range r.SignalingURLs {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("signaling URL %q must be http(s)://host[:port]", s)
		}
		r.SignalingURLs[i] = strings.TrimRight(s, "/")
		if first == nil {
			first = u
		}
	}
	host, port, err := net.SplitHostPort(r.Addr)
	if err != nil {
		return fmt.Errorf("addr %q: %w", r.Addr, err)
	}
	if r.ControlURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		r.ControlURL = "http://" + net.JoinHostPort(host, port)
	}
	if u, err := url.Parse(r.ControlURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("control URL %q must be http(s)://host[:port]", r.ControlURL)
	}
	r.ControlURL = strings.TrimRight(r.ControlURL, "/")
	if r.ID == "" {
		b := make([]byte, 6)
		rand.Read(b)
		r.ID = "relay-" + hex.EncodeToString(b)
	}
	if (r.DatabaseURL == "") != (r.RedisURL == "") {
		return errors.New("PARLEY_DATABASE_URL and PARLEY_REDIS_URL go together: with both the relay commits chat itself, with neither it forwards to signaling")
	}
	if r.DatabaseURL != "" {
		pg := Config{DatabaseURL: r.DatabaseURL}
		if !pg.Postgres() {
			return errors.New("PARLEY_DATABASE_URL: a relay shares the fleet's PostgreSQL (postgres://…)")
		}
		if r.EncryptionKeys == "" {
			return errors.New("PARLEY_ENCRYPTION_KEYS must be set to signaling's keys when the relay commits chat")
		}
	}
	if r.Heartbeat <= 0 {
		return errors.New("PARLEY_RELAY_HEARTBEAT must be positive")
	}
	switch r.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log format %q: want text or json", r.LogFormat)
	}
	// Browsers reach the relay where they reach signaling: loopback "auto"
	// follows the (first) signaling URL.
	return r.RTC.completeRTC(first)
}
