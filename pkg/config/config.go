// Package config reads the signaling server's configuration from flags and
// PARLEY_* environment variables. Every setting has a default that runs the
// embedded single-binary install; flags override the environment.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
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
	RedisURL      string        // redis://… for the bus and shared rate limits (PARLEY_REDIS_URL); empty: in process
	RateLimits    bool          // enforce rate limits (PARLEY_RATE_LIMITS); off only for benchmarks
	// HTTPS: a certificate and key (PEM files), or a host name whose
	// certificate is obtained with ACME (Let's Encrypt, TLS-ALPN on this
	// port, which must then be 443). See README, Security.
	TLSCert  string // PARLEY_TLS_CERT
	TLSKey   string // PARLEY_TLS_KEY
	ACMEHost string // PARLEY_ACME_HOST
	// TrustedProxies are the networks of reverse proxies (a TLS proxy, a
	// load balancer) whose ProxyHeader names the client; from any other
	// peer the header is ignored, since anyone can send it
	// (PARLEY_TRUSTED_PROXIES). See clientaddr.go in pkg/service.
	TrustedProxies []netip.Prefix
	// ProxyHeader is the header the trusted proxies append the client's
	// address to: X-Forwarded-For or Forwarded (PARLEY_PROXY_HEADER). Only
	// one is read: a proxy passes the other on as the client wrote it.
	ProxyHeader string
	// MaxSocketsPerVisitor and MaxSocketsPerAddress cap the live sockets
	// one visitor (its token) and one client address (an IPv6 /64) may
	// hold on a node; the next one is closed with 4429. Zero: no cap
	// (PARLEY_MAX_SOCKETS_PER_VISITOR, PARLEY_MAX_SOCKETS_PER_ADDRESS).
	MaxSocketsPerVisitor, MaxSocketsPerAddress int
	// MaxConnsPerAddress caps the HTTP connections one client address
	// holds open on a node (PARLEY_MAX_CONNS_PER_ADDRESS); HTTPTimeout is
	// the time a request has to arrive whole and its answer to be written
	// (PARLEY_HTTP_TIMEOUT). Upgraded WebSockets have neither: they are
	// capped by MaxSocketsPerAddress and kept alive by pings.
	MaxConnsPerAddress int
	HTTPTimeout        time.Duration
	// /metrics: behind a bearer token (PARLEY_METRICS_TOKEN), and/or on
	// a listen address of its own instead of Addr (PARLEY_METRICS_ADDR).
	// In production (Production) with neither, it is not served on Addr.
	MetricsToken string
	MetricsAddr  string
	// ConversationsPerVisitor and ConversationsPerSite limit the new
	// conversations one visitor, and one site, may open: "10/1h" is ten
	// an hour (PARLEY_CONVERSATIONS_PER_VISITOR, PARLEY_CONVERSATIONS_PER_SITE).
	ConversationsPerVisitor, ConversationsPerSite Rate
	// Webhooks (pkg/service/webhooks.go): WebhookAllowPrivate lets
	// webhooks call private, loopback and link-local addresses (off: an
	// admin could otherwise make the server probe its own network);
	// WebhookTimeout bounds one delivery attempt; WebhookRetryBase is the
	// wait after the first failed attempt, doubled after each next one.
	WebhookAllowPrivate bool
	WebhookTimeout      time.Duration
	WebhookRetryBase    time.Duration
	// VisitorTokenTTL is how long a visitor token lives; live connections
	// get a fresh one before it expires (PARLEY_VISITOR_TOKEN_TTL).
	VisitorTokenTTL time.Duration

	// WebRTC: the in-process relay (pkg/relay) and the ICE servers handed
	// to browsers (pkg/turn). See README, "WebRTC, relay and TURN".
	RTC           bool     // run the relay and offer data channels (PARLEY_RTC)
	RTCUDPPort    int      // one UDP port for every peer (ICE UDP mux); 0: ephemeral ports (PARLEY_RTC_UDP_PORT)
	RTCTCPPort    int      // ICE over TCP on this port; 0: off (PARLEY_RTC_TCP_PORT)
	RTCPublicIPs  []string // this host's public IPs behind a 1:1 NAT (PARLEY_RTC_PUBLIC_IPS)
	RTCAllowedIPs []string // local IPs/CIDRs the relay may offer as candidates (PARLEY_RTC_ALLOWED_IPS)
	RTCLoopback   bool     // offer loopback candidates (PARLEY_RTC_LOOPBACK: auto = when PublicURL is loopback)
	// Browsers' candidates in RTCRemoteDeny (default: loopback, link-local,
	// private, multicast) and not in RTCRemoteAllow are dropped: the relay
	// would send STUN to them (PARLEY_RTC_REMOTE_ALLOW, PARLEY_RTC_REMOTE_DENY).
	RTCRemoteAllow, RTCRemoteDeny []string
	RTCTimeout                    time.Duration // a data channel not open by then is given up (PARLEY_RTC_TIMEOUT)
	RTCInterfaces                 []string      // network interfaces the relay gathers candidates on; empty: all (PARLEY_RTC_INTERFACES)
	RTCMDNS                       bool          // answer and resolve mDNS (.local) candidates; off for servers (PARLEY_RTC_MDNS)
	// ICE timing on the relay's side (PARLEY_RTC_ICE_DISCONNECTED_TIMEOUT,
	// PARLEY_RTC_ICE_FAILED_TIMEOUT, PARLEY_RTC_ICE_KEEPALIVE); zero: the
	// relay's defaults (5s, 25s, 2s).
	RTCDisconnectedTimeout, RTCFailedTimeout, RTCKeepalive time.Duration
	// RTCMaxMessageSize is the SCTP max-message-size announced to browsers;
	// zero: the protocol's frame limit (PARLEY_RTC_MAX_MESSAGE_SIZE).
	RTCMaxMessageSize int
	STUNURLs          []string      // stun: URLs for browsers (PARLEY_STUN_URLS)
	TURNURLs          []string      // turn:/turns: URLs for browsers (PARLEY_TURN_URLS)
	TURNSecret        string        // coturn's static-auth-secret (PARLEY_TURN_SECRET)
	TURNTTL           time.Duration // lifetime of minted TURN credentials (PARLEY_TURN_TTL)
	// ICETransportPolicy is handed to browsers with the ICE servers: "all"
	// (default) or "relay", which makes them connect through TURN only, to
	// check a TURN deployment or to hide visitors' addresses from the relay
	// (PARLEY_ICE_TRANSPORT_POLICY).
	ICETransportPolicy string
	// RelaySecret, when set, makes signaling use standalone relays (go run
	// ./relay) that register with it using this secret, instead of the
	// in-process relay (PARLEY_RELAY_SECRET). See relay.go.
	RelaySecret string
	// CallRingTimeout is how long a call rings before it counts as not
	// answered (PARLEY_CALL_RING_TIMEOUT).
	CallRingTimeout time.Duration
	// ReplyDomain is the domain of the reply addresses in mail to visitors
	// (r-<conversation>-<signature>@ReplyDomain); its MX must reach
	// SMTPListen. Empty: mail goes out without a way to answer by mail
	// (PARLEY_REPLY_DOMAIN).
	ReplyDomain string
	// SMTPListen is where visitors' emailed replies are taken in, e.g.
	// :25 behind the MX of ReplyDomain (PARLEY_SMTP_LISTEN).
	SMTPListen string
	// MailDelay is how long a conversation is quiet before its new
	// messages are mailed: a burst of replies is one mail, and a visitor
	// who comes back meanwhile reads them in the chat (PARLEY_MAIL_DELAY).
	MailDelay time.Duration
	// S3 keeps attachments in an S3-compatible bucket instead of the data
	// dir when S3Endpoint is set (PARLEY_S3_ENDPOINT, a URL;
	// PARLEY_S3_BUCKET, PARLEY_S3_REGION, PARLEY_S3_ACCESS_KEY,
	// PARLEY_S3_SECRET_KEY).
	S3Endpoint, S3Bucket, S3Region, S3AccessKey, S3SecretKey string
	// GeoIPDB is a MaxMind DB file (GeoLite2 City or Country, or DB-IP's
	// lite file) that gives agents a visitor's approximate place; empty:
	// none, and none is bundled (PARLEY_GEOIP_DB).
	GeoIPDB string

	rtcLoopback string // raw PARLEY_RTC_LOOPBACK: true, false or auto
	// publicURLDerived: PARLEY_PUBLIC_URL was not set; PublicURL was made
	// from the listen address (IsOwnOrigin).
	publicURLDerived bool
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
	fs.StringVar(&c.RedisURL, "redis-url", env("PARLEY_REDIS_URL", ""), "redis://host:6379/0: the bus between signaling nodes and shared rate limits (a fleet); default in process [PARLEY_REDIS_URL]")
	limits, err := parseBool(env("PARLEY_RATE_LIMITS", "on"))
	if err != nil {
		return c, fmt.Errorf("PARLEY_RATE_LIMITS: %w", err)
	}
	fs.BoolVar(&c.RateLimits, "rate-limits", limits, "enforce rate limits on sign-in, visitor sessions and messages; turn off only to benchmark [PARLEY_RATE_LIMITS]")
	fs.StringVar(&c.TLSCert, "tls-cert", env("PARLEY_TLS_CERT", ""), "PEM certificate (chain) file: serve HTTPS and WSS [PARLEY_TLS_CERT]")
	fs.StringVar(&c.TLSKey, "tls-key", env("PARLEY_TLS_KEY", ""), "PEM private key file of the certificate [PARLEY_TLS_KEY]")
	fs.StringVar(&c.ACMEHost, "acme-host", env("PARLEY_ACME_HOST", ""), "host name to get a certificate for with ACME (Let's Encrypt); listen on :443 [PARLEY_ACME_HOST]")
	var proxies []string
	listFlag(fs, env, "trusted-proxies", "PARLEY_TRUSTED_PROXIES", "IPs or CIDRs of reverse proxies whose forwarding header names the client (rate limits, audit log); default none: the TCP peer is the client", &proxies)
	fs.StringVar(&c.MetricsToken, "metrics-token", env("PARLEY_METRICS_TOKEN", ""), "bearer token Prometheus must send for /metrics (Authorization: Bearer …) [PARLEY_METRICS_TOKEN]")
	fs.StringVar(&c.ReplyDomain, "reply-domain", env("PARLEY_REPLY_DOMAIN", ""), "domain of the reply addresses in mail to visitors; its MX points at -smtp-listen [PARLEY_REPLY_DOMAIN]")
	fs.StringVar(&c.GeoIPDB, "geoip-db", env("PARLEY_GEOIP_DB", ""), "MaxMind DB file (GeoLite2 City/Country) for visitors' approximate place; none is bundled [PARLEY_GEOIP_DB]")
	mailDelay, err := time.ParseDuration(env("PARLEY_MAIL_DELAY", "30s"))
	if err != nil || mailDelay < 0 {
		return c, fmt.Errorf("PARLEY_MAIL_DELAY: want a duration such as 30s")
	}
	fs.DurationVar(&c.MailDelay, "mail-delay", mailDelay, "how long a conversation is quiet before its new messages are mailed [PARLEY_MAIL_DELAY]")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", env("PARLEY_S3_ENDPOINT", ""), "keep attachments in this S3-compatible service (a URL) instead of the data dir [PARLEY_S3_ENDPOINT]")
	fs.StringVar(&c.S3Bucket, "s3-bucket", env("PARLEY_S3_BUCKET", ""), "the S3 bucket for attachments [PARLEY_S3_BUCKET]")
	fs.StringVar(&c.S3Region, "s3-region", env("PARLEY_S3_REGION", "us-east-1"), "the S3 region [PARLEY_S3_REGION]")
	fs.StringVar(&c.S3AccessKey, "s3-access-key", env("PARLEY_S3_ACCESS_KEY", ""), "the S3 access key [PARLEY_S3_ACCESS_KEY]")
	fs.StringVar(&c.S3SecretKey, "s3-secret-key", env("PARLEY_S3_SECRET_KEY", ""), "the S3 secret key [PARLEY_S3_SECRET_KEY]")
	fs.StringVar(&c.SMTPListen, "smtp-listen", env("PARLEY_SMTP_LISTEN", ""), "take visitors' emailed replies in on this SMTP listen address (e.g. :25); needs -reply-domain [PARLEY_SMTP_LISTEN]")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("PARLEY_METRICS_ADDR", ""), "serve /metrics on this listen address (e.g. 127.0.0.1:9090) instead of the public one [PARLEY_METRICS_ADDR]")
	fs.StringVar(&c.ProxyHeader, "proxy-header", env("PARLEY_PROXY_HEADER", "X-Forwarded-For"), "header the trusted proxies add the client's address to: X-Forwarded-For or Forwarded [PARLEY_PROXY_HEADER]")
	for _, n := range []struct {
		dst       *int
		flag, key string
		def, help string
	}{
		{&c.MaxSocketsPerVisitor, "max-sockets-per-visitor", "PARLEY_MAX_SOCKETS_PER_VISITOR", "20", "live sockets one visitor may hold on a node (its tabs); 0: no cap"},
		{&c.MaxSocketsPerAddress, "max-sockets-per-address", "PARLEY_MAX_SOCKETS_PER_ADDRESS", "500", "live sockets one client address (an IPv6 /64) may hold on a node; 0: no cap"},
		{&c.MaxConnsPerAddress, "max-conns-per-address", "PARLEY_MAX_CONNS_PER_ADDRESS", "256", "HTTP connections one client address (an IPv6 /64) may hold open on a node (a WebSocket leaves them for max-sockets-per-address once upgraded; trusted proxies are not capped); 0: no cap"},
	} {
		v, err := strconv.Atoi(env(n.key, n.def))
		if err != nil || v < 0 {
			return c, fmt.Errorf("%s: want a whole number ≥ 0", n.key)
		}
		fs.IntVar(n.dst, n.flag, v, n.help+" ["+n.key+"]")
	}
	httpTimeout, err := time.ParseDuration(env("PARLEY_HTTP_TIMEOUT", "30s"))
	if err != nil {
		return c, fmt.Errorf("PARLEY_HTTP_TIMEOUT: %w", err)
	}
	fs.DurationVar(&c.HTTPTimeout, "http-timeout", httpTimeout, "time an HTTP request has to arrive whole (body included), and its answer to be written; not WebSockets [PARLEY_HTTP_TIMEOUT]")
	for _, r := range []struct {
		dst       *Rate
		flag, key string
		def, help string
	}{
		{&c.ConversationsPerVisitor, "conversations-per-visitor", "PARLEY_CONVERSATIONS_PER_VISITOR", "10/1h", "new conversations one visitor may open, as count/period"},
		{&c.ConversationsPerSite, "conversations-per-site", "PARLEY_CONVERSATIONS_PER_SITE", "300/1m", "new conversations one site's visitors may open together, as count/period"},
	} {
		v, err := ParseRate(env(r.key, r.def))
		if err != nil {
			return c, fmt.Errorf("%s: %w", r.key, err)
		}
		*r.dst = v
		fs.Func(r.flag, r.help+" ["+r.key+"]", func(s string) (err error) { *r.dst, err = ParseRate(s); return err })
	}
	whPrivate, err := parseBool(env("PARLEY_WEBHOOK_ALLOW_PRIVATE", "off"))
	if err != nil {
		return c, fmt.Errorf("PARLEY_WEBHOOK_ALLOW_PRIVATE: %w", err)
	}
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", whPrivate, "let webhooks call private, loopback and link-local addresses [PARLEY_WEBHOOK_ALLOW_PRIVATE]")
	for _, d := range []struct {
		dst       *time.Duration
		flag, key string
		def, help string
	}{
		{&c.WebhookTimeout, "webhook-timeout", "PARLEY_WEBHOOK_TIMEOUT", "10s", "time one webhook delivery attempt may take"},
		{&c.WebhookRetryBase, "webhook-retry-base", "PARLEY_WEBHOOK_RETRY_BASE", "30s", "wait after a webhook delivery's first failed attempt, doubled after each next one (up to 6 h, 12 attempts)"},
	} {
		v, err := time.ParseDuration(env(d.key, d.def))
		if err != nil || v <= 0 {
			return c, fmt.Errorf("%s: want a duration above 0 such as %s", d.key, d.def)
		}
		fs.DurationVar(d.dst, d.flag, v, d.help+" ["+d.key+"]")
	}
	vttl, err := time.ParseDuration(env("PARLEY_VISITOR_TOKEN_TTL", "1h"))
	if err != nil {
		return c, fmt.Errorf("PARLEY_VISITOR_TOKEN_TTL: %w", err)
	}
	fs.DurationVar(&c.VisitorTokenTTL, "visitor-token-ttl", vttl, "lifetime of visitor tokens; connected widgets get fresh ones before expiry [PARLEY_VISITOR_TOKEN_TTL]")
	if err := c.rtcFlags(fs, env); err != nil {
		return c, err
	}
	fs.StringVar(&c.RelaySecret, "relay-secret", env("PARLEY_RELAY_SECRET", ""), "shared secret of standalone relays (go run ./relay); when set, chat data channels go through registered relays instead of the in-process one [PARLEY_RELAY_SECRET]")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.TrustedProxies, err = parsePrefixes(proxies); err != nil {
		return c, fmt.Errorf("PARLEY_TRUSTED_PROXIES: %w", err)
	}
	return c, c.complete()
}

func (c *Config) complete() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("addr %q: %w", c.Addr, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("PARLEY_TLS_CERT and PARLEY_TLS_KEY go together")
	}
	if c.TLSCert != "" && c.ACMEHost != "" {
		return errors.New("set either PARLEY_TLS_CERT/PARLEY_TLS_KEY or PARLEY_ACME_HOST, not both")
	}
	c.publicURLDerived = c.PublicURL == ""
	if c.PublicURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		switch {
		case c.ACMEHost != "":
			c.PublicURL = "https://" + c.ACMEHost
		case c.TLS():
			c.PublicURL = "https://" + net.JoinHostPort(host, port)
		default:
			c.PublicURL = "http://" + net.JoinHostPort(host, port)
		}
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("public URL %q must be http(s)://host[:port]", c.PublicURL)
	}
	// Written back from its parts: url.Parse lowercases the scheme, and
	// everything that compares against the public URL (Secure cookies,
	// HSTS, origin checks) compares lowercase strings, so HTTPS://Chat…
	// must not pass validation and then count as plain HTTP.
	u.Host = strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		u.Host = strings.TrimSuffix(u.Host, ":"+p) // as browsers write it in Origin
	}
	c.PublicURL = strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/")
	if c.DatabaseURL == "" {
		c.DatabaseURL = filepath.Join(c.DataDir, "parley.db")
	}
	if c.RelaySecret != "" && len(c.RelaySecret) < MinRelaySecret {
		return fmt.Errorf("PARLEY_RELAY_SECRET must be at least %d characters", MinRelaySecret)
	}
	if c.Secret != "" && len(c.Secret) < 32 {
		return errors.New("PARLEY_SECRET must be at least 32 characters")
	}
	switch strings.ToLower(c.ProxyHeader) {
	case "x-forwarded-for":
		c.ProxyHeader = "X-Forwarded-For"
	case "forwarded":
		c.ProxyHeader = "Forwarded"
	default:
		return fmt.Errorf("PARLEY_PROXY_HEADER %q: want X-Forwarded-For or Forwarded", c.ProxyHeader)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log format %q: want text or json", c.LogFormat)
	}
	if c.MaxSocketsPerVisitor < 0 || c.MaxSocketsPerAddress < 0 {
		return errors.New("PARLEY_MAX_SOCKETS_PER_* must not be negative")
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return errors.New("PARLEY_METRICS_TOKEN must be at least 16 characters")
	}
	if c.S3Endpoint != "" {
		if u, err := url.Parse(c.S3Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("PARLEY_S3_ENDPOINT is a URL such as https://s3.example.com, got %q", c.S3Endpoint)
		}
		if c.S3Bucket == "" {
			return errors.New("PARLEY_S3_ENDPOINT needs PARLEY_S3_BUCKET")
		}
	}
	if c.SMTPListen != "" {
		if _, _, err := net.SplitHostPort(c.SMTPListen); err != nil {
			return fmt.Errorf("PARLEY_SMTP_LISTEN %q: %w", c.SMTPListen, err)
		}
		if c.ReplyDomain == "" {
			return fmt.Errorf("PARLEY_SMTP_LISTEN needs PARLEY_REPLY_DOMAIN: the domain whose addresses it takes mail for")
		}
	}
	if c.ReplyDomain != "" && (strings.ContainsAny(c.ReplyDomain, "@/: ") || !strings.Contains(c.ReplyDomain, ".")) {
		return fmt.Errorf("PARLEY_REPLY_DOMAIN %q is not a domain name", c.ReplyDomain)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("PARLEY_METRICS_ADDR %q: %w", c.MetricsAddr, err)
		}
	}
	if c.HTTPTimeout < 100*time.Millisecond || c.HTTPTimeout > 10*time.Minute {
		return errors.New("PARLEY_HTTP_TIMEOUT must be between 100ms and 10m")
	}
	if c.VisitorTokenTTL < 10*time.Second || c.VisitorTokenTTL > 24*time.Hour {
		return errors.New("PARLEY_VISITOR_TOKEN_TTL must be between 10s and 24h")
	}
	if c.RTCTimeout <= 0 {
		return errors.New("PARLEY_RTC_TIMEOUT must be positive")
	}
	if c.CallRingTimeout < time.Second || c.CallRingTimeout > 10*time.Minute {
		return errors.New("PARLEY_CALL_RING_TIMEOUT must be between 1s and 10m")
	}
	switch c.ICETransportPolicy {
	case "all":
	case "relay":
		if c.RTC && len(c.TURNURLs) == 0 {
			// Browsers would gather no candidate at all.
			return errors.New("PARLEY_ICE_TRANSPORT_POLICY=relay needs TURN servers (PARLEY_TURN_URLS)")
		}
	default:
		return fmt.Errorf("PARLEY_ICE_TRANSPORT_POLICY %q: want all or relay", c.ICETransportPolicy)
	}
	return c.completeRTC(u)
}

// rtcFlags declares the WebRTC settings.
func (c *Config) rtcFlags(fs *flag.FlagSet, env func(k, def string) string) error {
	on, err := parseBool(env("PARLEY_RTC", "on"))
	if err != nil {
		return fmt.Errorf("PARLEY_RTC: %w", err)
	}
	fs.BoolVar(&c.RTC, "rtc", on, "run the in-process WebRTC relay so chat can use data channels (falls back to the WebSocket) [PARLEY_RTC]")
	if err := c.relayFlags(fs, env); err != nil {
		return err
	}
	listFlag(fs, env, "stun-urls", "PARLEY_STUN_URLS", "STUN servers for browsers, e.g. stun:turn.example.com:3478", &c.STUNURLs)
	listFlag(fs, env, "turn-urls", "PARLEY_TURN_URLS", "TURN servers for browsers, e.g. turn:turn.example.com:3478?transport=udp", &c.TURNURLs)
	timeout, err := time.ParseDuration(env("PARLEY_RTC_TIMEOUT", "10s"))
	if err != nil {
		return fmt.Errorf("PARLEY_RTC_TIMEOUT: %w", err)
	}
	fs.DurationVar(&c.RTCTimeout, "rtc-timeout", timeout, "a data channel not open this long after the offer is given up; chat stays on the WebSocket [PARLEY_RTC_TIMEOUT]")
	ring, err := time.ParseDuration(env("PARLEY_CALL_RING_TIMEOUT", "30s"))
	if err != nil {
		return fmt.Errorf("PARLEY_CALL_RING_TIMEOUT: %w", err)
	}
	fs.DurationVar(&c.CallRingTimeout, "call-ring-timeout", ring, "a call not answered this long counts as not answered [PARLEY_CALL_RING_TIMEOUT]")
	fs.StringVar(&c.TURNSecret, "turn-secret", env("PARLEY_TURN_SECRET", ""), "coturn's static-auth-secret; signaling mints time-limited TURN credentials with it [PARLEY_TURN_SECRET]")
	ttl, err := time.ParseDuration(env("PARLEY_TURN_TTL", "24h"))
	if err != nil {
		return fmt.Errorf("PARLEY_TURN_TTL: %w", err)
	}
	fs.DurationVar(&c.TURNTTL, "turn-ttl", ttl, "lifetime of minted TURN credentials [PARLEY_TURN_TTL]")
	fs.StringVar(&c.ICETransportPolicy, "ice-transport-policy", env("PARLEY_ICE_TRANSPORT_POLICY", "all"), "browsers' ICE transport policy: all, or relay (through the TURN servers only) [PARLEY_ICE_TRANSPORT_POLICY]")
	return nil
}

// relayFlags declares the relay's own knobs (ports, addresses), shared by
// the in-process relay and the standalone one (LoadRelay).
func (c *Config) relayFlags(fs *flag.FlagSet, env func(k, def string) string) error {
	udp, err := strconv.Atoi(env("PARLEY_RTC_UDP_PORT", "0"))
	if err != nil {
		return fmt.Errorf("PARLEY_RTC_UDP_PORT: %w", err)
	}
	fs.IntVar(&c.RTCUDPPort, "rtc-udp-port", udp, "one UDP port for all WebRTC peers (open it in the firewall); 0: an ephemeral port per peer [PARLEY_RTC_UDP_PORT]")
	tcp, err := strconv.Atoi(env("PARLEY_RTC_TCP_PORT", "0"))
	if err != nil {
		return fmt.Errorf("PARLEY_RTC_TCP_PORT: %w", err)
	}
	fs.IntVar(&c.RTCTCPPort, "rtc-tcp-port", tcp, "also offer ICE over TCP on this port, for networks that block UDP; 0: off [PARLEY_RTC_TCP_PORT]")
	listFlag(fs, env, "rtc-public-ips", "PARLEY_RTC_PUBLIC_IPS", "this host's public IPs when behind a 1:1 NAT", &c.RTCPublicIPs)
	listFlag(fs, env, "rtc-allowed-ips", "PARLEY_RTC_ALLOWED_IPS", "local IPs or CIDRs the relay may offer as ICE candidates; default all", &c.RTCAllowedIPs)
	fs.StringVar(&c.rtcLoopback, "rtc-loopback", env("PARLEY_RTC_LOOPBACK", "auto"), "offer loopback ICE candidates: true, false, or auto (when the public URL is localhost/127.0.0.1) [PARLEY_RTC_LOOPBACK]")
	listFlag(fs, env, "rtc-remote-allow", "PARLEY_RTC_REMOTE_ALLOW", "networks (IPs or CIDRs) browsers' ICE candidates may name even when denied, e.g. an office network the relay serves", &c.RTCRemoteAllow)
	listFlag(fs, env, "rtc-remote-deny", "PARLEY_RTC_REMOTE_DENY", "networks browsers' ICE candidates may not name (the relay would probe them); default loopback, link-local, private and multicast ranges", &c.RTCRemoteDeny)
	listFlag(fs, env, "rtc-interfaces", "PARLEY_RTC_INTERFACES", "network interfaces the relay gathers ICE candidates on, e.g. eth0; default all", &c.RTCInterfaces)
	mdns, err := parseBool(env("PARLEY_RTC_MDNS", "off"))
	if err != nil {
		return fmt.Errorf("PARLEY_RTC_MDNS: %w", err)
	}
	fs.BoolVar(&c.RTCMDNS, "rtc-mdns", mdns, "answer and resolve mDNS (.local) ICE candidates; servers have real addresses, so off by default [PARLEY_RTC_MDNS]")
	for _, d := range []struct {
		dst       *time.Duration
		flag, key string
		help      string
	}{
		{&c.RTCDisconnectedTimeout, "rtc-ice-disconnected-timeout", "PARLEY_RTC_ICE_DISCONNECTED_TIMEOUT", "ICE counts a connection disconnected after this long without traffic; 0: 5s"},
		{&c.RTCFailedTimeout, "rtc-ice-failed-timeout", "PARLEY_RTC_ICE_FAILED_TIMEOUT", "a disconnected ICE connection fails (and is restarted) after this long; 0: 25s"},
		{&c.RTCKeepalive, "rtc-ice-keepalive", "PARLEY_RTC_ICE_KEEPALIVE", "ICE keepalive interval on idle connections (keeps NAT bindings); 0: 2s"},
	} {
		v, err := time.ParseDuration(env(d.key, "0s"))
		if err != nil {
			return fmt.Errorf("%s: %w", d.key, err)
		}
		fs.DurationVar(d.dst, d.flag, v, d.help+" ["+d.key+"]")
	}
	size, err := strconv.Atoi(env("PARLEY_RTC_MAX_MESSAGE_SIZE", "0"))
	if err != nil {
		return fmt.Errorf("PARLEY_RTC_MAX_MESSAGE_SIZE: %w", err)
	}
	fs.IntVar(&c.RTCMaxMessageSize, "rtc-max-message-size", size, "SCTP max-message-size announced to browsers, at least the protocol's frame limit; 0: that limit [PARLEY_RTC_MAX_MESSAGE_SIZE]")
	return nil
}

// completeRTC resolves PARLEY_RTC_LOOPBACK=auto: a server whose public URL
// is on this machine only is reached by browsers on this machine, over
// loopback, so it offers loopback candidates (and, unless told otherwise,
// only those).
func (c *Config) completeRTC(public *url.URL) error {
	if c.RTCUDPPort < 0 || c.RTCUDPPort > 65535 {
		return fmt.Errorf("PARLEY_RTC_UDP_PORT %d is not a port", c.RTCUDPPort)
	}
	if c.RTCTCPPort < 0 || c.RTCTCPPort > 65535 {
		return fmt.Errorf("PARLEY_RTC_TCP_PORT %d is not a port", c.RTCTCPPort)
	}
	if c.RTCDisconnectedTimeout < 0 || c.RTCFailedTimeout < 0 || c.RTCKeepalive < 0 {
		return errors.New("PARLEY_RTC_ICE_* timings must not be negative")
	}
	host := public.Hostname()
	ip := net.ParseIP(host)
	local := host == "localhost" || (ip != nil && ip.IsLoopback())
	switch strings.ToLower(c.rtcLoopback) {
	case "auto", "":
		c.RTCLoopback = local
		if local && len(c.RTCAllowedIPs) == 0 {
			c.RTCAllowedIPs = []string{"127.0.0.0/8", "::1"}
		}
	default:
		v, err := parseBool(c.rtcLoopback)
		if err != nil {
			return fmt.Errorf("PARLEY_RTC_LOOPBACK %q: want true, false or auto", c.rtcLoopback)
		}
		c.RTCLoopback = v
	}
	return nil
}

// listFlag declares a comma-separated list setting.
func listFlag(fs *flag.FlagSet, env func(k, def string) string, name, key, help string, dst *[]string) {
	*dst = splitList(env(key, ""))
	fs.Func(name, help+" (comma-separated) ["+key+"]", func(v string) error { *dst = splitList(v); return nil })
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parsePrefixes reads IPs and CIDRs (an IP is a /32 or /128). An
// IPv4-mapped IPv6 prefix is kept as the IPv4 prefix it is, since client
// addresses are compared unmapped.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%q: an IPv4-mapped prefix needs at least 96 bits", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// TLS reports whether this server serves HTTPS itself (a certificate or
// ACME), rather than plain HTTP (perhaps behind a TLS proxy).
func (c Config) TLS() bool { return c.TLSCert != "" || c.ACMEHost != "" }

// Production reports whether the server is reached by a name other than
// this machine's loopback (the public URL's host is not localhost,
// 127.0.0.0/8 or ::1): what is open for development, such as /metrics,
// is closed then.
func (c Config) Production() bool {
	u, err := url.Parse(c.PublicURL)
	return err != nil || !loopbackName(u.Hostname())
}

// Secure reports whether browsers reach the server over HTTPS: cookies
// get Secure and answers HSTS.
func (c Config) Secure() bool { return strings.HasPrefix(c.PublicURL, "https://") }

// PublicOrigin is the scheme://host[:port] of PublicURL.
func (c Config) PublicOrigin() string {
	u, _ := url.Parse(c.PublicURL)
	return u.Scheme + "://" + u.Host
}

// IsOwnOrigin reports whether a browser's Origin header names this server:
// the public URL's scheme, host and port, compared exactly. The Host header
// is never consulted (a client writes it), and "null" or "" is no origin.
// Without PARLEY_PUBLIC_URL, on a loopback listen address (a development
// run), the same scheme and port on another loopback name (localhost,
// 127.0.0.1, [::1]) counts too: only this machine can open those pages.
// Reached by any other name, set PARLEY_PUBLIC_URL.
func (c Config) IsOwnOrigin(origin string) bool {
	own := c.PublicOrigin()
	if origin == "" || origin == "null" {
		return false
	}
	if origin == own {
		return true
	}
	if !c.publicURLDerived {
		return false
	}
	o, err1 := url.Parse(origin)
	p, err2 := url.Parse(own)
	return err1 == nil && err2 == nil && o.Scheme == p.Scheme && o.Port() == p.Port() && o.Path == "" &&
		loopbackName(o.Hostname()) && loopbackName(p.Hostname())
}

func loopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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

// Rate is a limit of N events per Per.
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate reads "count/period", e.g. "10/1h" or "300/1m".
func ParseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 1 {
		return Rate{}, fmt.Errorf("%q: want count/period such as 10/1h", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(per))
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("%q: want count/period such as 10/1h", s)
	}
	return Rate{N: count, Per: d}, nil
}
