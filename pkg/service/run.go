package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/pkg/auth"
	"github.com/parleychat/parley/pkg/bus"
	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/conversation"
	"github.com/parleychat/parley/pkg/device"
	"github.com/parleychat/parley/pkg/email"
	"github.com/parleychat/parley/pkg/fleet"
	"github.com/parleychat/parley/pkg/keyring"
	"github.com/parleychat/parley/pkg/mailer"
	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/ratelimit"
	"github.com/parleychat/parley/pkg/store"
)

// Run starts the whole signaling node on cfg and serves until ctx ends, then
// drains. It prints the sign-in URL (and, on first run, the admin password)
// to out.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	rdb, err := fleet.Redis(cfg.RedisURL)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close() // after the bus and the limiter, deferred below
	}
	// Nodes of a fleet started together take turns to migrate the schema
	// and create the first workspace (each would create one otherwise).
	unlock := startupLock(ctx, rdb, log)
	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		unlock()
		return err
	}
	defer st.Close()
	password, err := bootstrap(ctx, st, cfg)
	unlock()
	if err != nil {
		return err
	}
	secret, err := loadSecret(cfg, log)
	if err != nil {
		return err
	}
	b := newBus(rdb, log)
	defer b.Close()
	var routingOpts conversation.RoutingOptions
	if rdb != nil {
		// A fleet: one node at a time routes each workspace, so queue
		// positions count every node's visitors.
		routingOpts.Lease = conversation.NewRedisLease(rdb)
	}
	conv := conversation.New(conversation.Options{Store: st, Bus: b, Logger: log, Routing: routingOpts})
	defer conv.Stop() // the routing engine's ticker
	limiter := fleet.Limiter(cfg.RateLimits, rdb, log)
	ice := ICEConfig(cfg)
	if err := ice.Validate(); err != nil {
		return fmt.Errorf("ICE servers (PARLEY_STUN_URLS, PARLEY_TURN_URLS, PARLEY_TURN_SECRET): %w", err)
	}
	rel, err := NewRelay(cfg, log)
	if err != nil {
		return err
	}
	if rel != nil {
		defer rel.Close() // after the drain below: connections close their peers first
	}
	pool := NewRelayPool(cfg, rdb, log)
	if pool != nil {
		defer pool.Close() // likewise
	}
	mail := mailer.New(st, email.NewReplies(string(secret), cfg.ReplyDomain), cfg.PublicOrigin(), log)
	mail.Quiet = cfg.MailDelay
	kb, err := OpenKnowledge(ctx, cfg.DataDir, st, log) // assistant.go
	if err != nil {
		return err
	}
	defer kb.Close()
	var places device.Locator
	if cfg.GeoIPDB != "" {
		g, err := device.OpenGeoIP(cfg.GeoIPDB)
		if err != nil {
			return fmt.Errorf("PARLEY_GEOIP_DB: %w", err)
		}
		defer g.Close()
		places = g
	}
	srv := New(cfg, Deps{Store: st, Bus: b, Conv: conv, Tokens: auth.NewTokenSigner(secret), Logger: log,
		Limiter: limiter, Rules: ratelimit.DefaultRules(), Relay: rel, RelayPool: pool, ICE: ice, Mailer: mail, Knowledge: kb, Places: places})
	if r, ok := b.(bus.Resyncer); ok {
		r.OnResync(srv.Resync)
	}
	go runPurge(ctx, st, srv.blobs, log) // purge.go
	go mail.Run(ctx)                     // pkg/mailer
	if cfg.SMTPListen != "" {
		sl, err := net.Listen("tcp", cfg.SMTPListen)
		if err != nil {
			return fmt.Errorf("PARLEY_SMTP_LISTEN %s: %w", cfg.SMTPListen, err)
		}
		in := srv.newInbound(log)
		defer in.Close()
		go in.Serve(sl)
		log.Info("taking emailed replies", "addr", sl.Addr().String(), "domain", cfg.ReplyDomain)
	}
	go srv.runWebhooks(ctx)         // webhooks.go
	go runSearchIndex(ctx, st, log) // http_search.go
	go runReportStats(ctx, st, log) // report_stats.go

	// Before listening: a restarted node's reconnecting clients find the
	// statements they need prepared (a failure only leaves them cold).
	if err := st.Warm(ctx); err != nil {
		log.Warn("store statements not prepared ahead", "err", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	httpSrv := &http.Server{}
	ln = srv.ServeOn(httpSrv, ln)                            // httpconns.go: timeouts, connections per address
	errc := make(chan error, 2)                              // the public and the metrics servers
	go func() { errc <- serveHTTP(httpSrv, ln, cfg, log) }() // tls.go
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("PARLEY_METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		metricsSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: cfg.HTTPTimeout, WriteTimeout: cfg.HTTPTimeout}
		defer metricsSrv.Close()
		go func() { errc <- metricsSrv.Serve(mln) }()
		log.Info("serving /metrics", "addr", mln.Addr().String())
	}

	log.Info("parley signaling is up", "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "store", st.Dialect(), "bus", busKind(rdb))
	fmt.Fprintf(out, "\nParley is running.\n  Agent dashboard: %s/app/\n", cfg.PublicURL)
	if cfg.Demo {
		fmt.Fprintf(out, "  Demo site page:  %s/demo\n", cfg.PublicURL)
	}
	if password != "" {
		fmt.Fprintf(out, "  First run: sign in as %s with password %s\n  (shown once; set PARLEY_ADMIN_PASSWORD to choose it)\n", cfg.AdminEmail, password)
	}
	fmt.Fprintln(out)

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining connections", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	httpSrv.Shutdown(sctx) // stops accepting; WebSockets are hijacked and drained below
	srv.Shutdown(sctx)
	log.Info("stopped")
	return nil
}

// startupLockKey is held in Redis by the node that migrates and bootstraps.
const startupLockKey = "parley:startup"

// startupLock waits until this node holds the fleet's startup lock and
// returns its release. Without Redis (one node) there is nothing to wait
// for; with Redis unreachable the node goes on without the lock (a fleet
// whose Redis is down at start gets a warning, not a hang). The lock
// expires by itself should its holder die.
func startupLock(ctx context.Context, rdb *redis.Client, log *slog.Logger) func() {
	if rdb == nil {
		return func() {}
	}
	token := randomToken()
	const ttl = 2 * time.Minute
	deadline := time.Now().Add(ttl + 10*time.Second)
	for {
		ok, err := rdb.SetNX(ctx, startupLockKey, token, ttl).Result()
		if err != nil {
			log.Warn("redis unreachable at start: migrating without the fleet's startup lock", "err", err)
			return func() {}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log.Warn("another node held the startup lock too long; going on without it")
			return func() {}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fleet.ReleaseIfOwner.Run(ctx, rdb, []string{startupLockKey}, token)
	}
}

// newBus returns the bus: Redis, shared by every node, when configured, else
// in process.
func newBus(rdb *redis.Client, log *slog.Logger) bus.Bus {
	if rdb == nil {
		return bus.NewMemory()
	}
	return bus.NewRedis(rdb, bus.RedisOptions{Logger: log})
}

func busKind(rdb *redis.Client) string {
	if rdb == nil {
		return "memory"
	}
	return "redis"
}

// OpenStore opens the configured store with encryption at rest: keys from
// PARLEY_ENCRYPTION_KEYS, or a key generated once into the data dir (0600).
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
	kr, source, created, err := keyring.Load(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("encryption keys: %w", err)
	}
	if created {
		log.Warn("generated a new encryption key for message bodies; back it up: without it stored messages cannot be read", "path", source)
	}
	if created && cfg.Postgres() {
		log.Warn("on PostgreSQL every node must share the keys: set PARLEY_ENCRYPTION_KEYS")
	}
	return store.Open(ctx, cfg.DatabaseURL, store.WithSealer(kr))
}

// Reencrypt rewrites stored values sealed with an older key under the
// primary key (after a rotation), while the server may keep running.
func Reencrypt(ctx context.Context, cfg config.Config, log *slog.Logger) (int, error) {
	kr, _, _, err := keyring.Load(cfg.DataDir)
	if err != nil {
		return 0, fmt.Errorf("encryption keys: %w", err)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.WithSealer(kr))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	n, err := st.Reencrypt(ctx, kr)
	if err != nil {
		return n, err
	}
	// The attachments' bytes, in their blob store (data dir or S3).
	blobs, err := OpenBlobs(cfg)
	if err != nil {
		return n, fmt.Errorf("attachment storage: %w", err)
	}
	files, err := st.ReencryptBlobs(ctx, kr, blobs)
	log.Info("reencrypt: attachment files resealed", "files", files)
	return n + files, err
}

// RebuildSearch is `signaling search rebuild [--workspace ID]`: the search
// index of one workspace (or all) built again from the stored messages,
// notes and visitors (store.RebuildSearch). A server may run meanwhile.
func RebuildSearch(ctx context.Context, cfg config.Config, ws string) (store.Rebuilt, error) {
	kr, _, _, err := keyring.Load(cfg.DataDir)
	if err != nil {
		return store.Rebuilt{}, fmt.Errorf("encryption keys: %w", err)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.WithSealer(kr))
	if err != nil {
		return store.Rebuilt{}, err
	}
	defer st.Close()
	n, err := st.RebuildSearch(ctx, ws)
	if errors.Is(err, store.ErrNotFound) {
		return n, fmt.Errorf("no workspace %q", ws)
	}
	return n, err
}

// bootstrapWorkspace names the first workspace.
const bootstrapWorkspace = "My workspace"

// bootstrap creates the first workspace, demo site and admin on an empty
// store. It returns the admin password when it generated one (to print once).
func bootstrap(ctx context.Context, st *store.Store, cfg config.Config) (string, error) {
	has, err := st.HasWorkspace(ctx)
	if err != nil || has {
		return "", err
	}
	password, generated := cfg.AdminPassword, false
	if password == "" {
		b := make([]byte, 12)
		rand.Read(b)
		password, generated = base64.RawURLEncoding.EncodeToString(b), true
	}
	hash, err := auth.HashPassword(password, cfg.AdminEmail, bootstrapWorkspace)
	if err != nil {
		return "", fmt.Errorf("PARLEY_ADMIN_PASSWORD: %w", err)
	}
	site := store.Site{ID: uuid.NewString(), Name: "Demo site", AllowedOrigins: cfg.PublicOrigin(), Secret: randomToken()}
	admin := store.Agent{
		ID: uuid.NewString(), Email: cfg.AdminEmail, Name: nameFromEmail(cfg.AdminEmail), Role: "admin",
		PasswordHash: hash, Status: protocol.StatusOnline, Capacity: 5,
	}
	if err := st.CreateWorkspace(ctx, store.Workspace{ID: uuid.NewString(), Name: bootstrapWorkspace}, site, admin); err != nil {
		return "", fmt.Errorf("first run: %w", err)
	}
	if !generated {
		return "", nil
	}
	return password, nil
}

func nameFromEmail(email string) string {
	name, _, _ := strings.Cut(email, "@")
	if name == "" {
		return "Admin"
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// loadSecret returns the visitor-token key: PARLEY_SECRET, or a key
// generated once into the data dir (0600). Every node of a fleet must share
// it, so on PostgreSQL set PARLEY_SECRET.
func loadSecret(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.Secret != "" {
		return []byte(cfg.Secret), nil
	}
	path := filepath.Join(cfg.DataDir, "secret")
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	b = make([]byte, 32)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if cfg.Postgres() {
		log.Warn("PARLEY_SECRET is not set: generated a key in the data dir; every signaling node must share one key", "path", path)
	} else {
		log.Info("generated the visitor token key", "path", path)
	}
	return b, nil
}
