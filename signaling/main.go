// Command signaling is Parley's server: `go run ./signaling` starts the whole
// product on one machine (SQLite, in-process bus, embedded widget and agent
// app, demo page). Configuration: flags or PARLEY_* environment variables;
// see -help and README.md.
//
//	signaling [serve] [flags]   run the server (the default)
//	signaling reencrypt [flags] re-seal stored messages, visitor personal fields and site identity secrets under the newest key
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/parleychat/parley/pkg/config"
	"github.com/parleychat/parley/pkg/service"
)

func main() {
	args := os.Args[1:]
	command := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "reencrypt") {
		command, args = args[0], args[1:]
	}
	cfg, err := config.Load(args, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signaling:", err)
		os.Exit(2)
	}
	log := newLogger(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if command == "reencrypt" {
		n, err := service.Reencrypt(ctx, cfg, log)
		if err != nil {
			log.Error("reencrypt failed", "err", err)
			os.Exit(1)
		}
		log.Info("reencrypted stored values under the primary key", "rewritten", n)
		return
	}
	if err := service.Run(ctx, cfg, log, os.Stdout); err != nil {
		log.Error("signaling stopped", "err", err)
		os.Exit(1)
	}
}

func newLogger(cfg config.Config) *slog.Logger {
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
