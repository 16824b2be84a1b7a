// Command relay is Parley's standalone WebRTC relay: `go run ./relay` runs
// the relay as its own process, registered with signaling (which then stops
// using its in-process relay). Configuration: flags or PARLEY_RELAY_* and
// PARLEY_RTC_* environment variables; see -help and README.md, "Running
// relays separately".
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/relaynode"
)

func main() {
	cfg, err := config.LoadRelay(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(2)
	}
	log := newLogger(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	chat, closeChat, err := relaynode.OpenChat(ctx, cfg, log)
	if err != nil {
		log.Error("relay cannot open the fleet's store and bus", "err", err)
		os.Exit(1)
	}
	defer closeChat()
	if chat != nil {
		log.Info("committing chat here: PostgreSQL store and Redis bus")
	} else {
		log.Info("forwarding chat frames to signaling (no PARLEY_DATABASE_URL / PARLEY_REDIS_URL)")
	}
	node, err := relaynode.New(cfg, log, chat)
	if err != nil {
		log.Error("relay failed to start", "err", err)
		os.Exit(1)
	}
	if err := node.Run(ctx); err != nil {
		log.Error("relay stopped", "err", err)
		closeChat()
		os.Exit(1)
	}
}

func newLogger(cfg config.Relay) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
