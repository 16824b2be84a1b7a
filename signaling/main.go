// Command signaling is Parley's server: `go run ./signaling` starts the whole
// product on one machine (SQLite, in-process bus, embedded widget and agent
// app, demo page). Configuration: flags or PARLEY_* environment variables;
// see -help and README.md.
//
//	signaling [serve] [flags]   run the server (the default)
//	signaling reencrypt [flags] re-seal stored messages, visitor personal fields, site identity secrets and attachment files under the newest key
//	signaling search rebuild [--workspace ID] [flags]
//	                            build the search index of one workspace (or all) again from what is stored
//	signaling workspace create --name NAME --admin-email EMAIL [flags]
//	                            add a workspace (one site, one admin) to the store; prints the admin's first password
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
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
	var wsName, wsAdmin string
	if len(args) > 1 && args[0] == "workspace" && args[1] == "create" {
		command = "workspace create"
		args, wsName, wsAdmin = workspaceFlags(args[2:])
	}
	var searchWS string
	if len(args) > 1 && args[0] == "search" && args[1] == "rebuild" {
		command = "search rebuild"
		var flags map[string]string
		args, flags = commandFlags(args[2:], "workspace")
		searchWS = flags["workspace"]
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
	if command == "search rebuild" {
		n, err := service.RebuildSearch(ctx, cfg, searchWS)
		if err != nil {
			fmt.Fprintln(os.Stderr, "signaling search rebuild:", err)
			os.Exit(1)
		}
		log.Info("search index rebuilt", "workspace", searchWS, "messages", n.Messages, "notes", n.Notes, "visitors", n.Visitors)
		return
	}
	if command == "workspace create" {
		w, err := service.CreateWorkspace(ctx, cfg, log, wsName, wsAdmin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "signaling workspace create:", err)
			os.Exit(1)
		}
		fmt.Printf("Workspace %q created (%s).\n  Sign in: %s/app/ as %s with password %s (shown once)\n  Its first site's snippet: %s\n",
			wsName, w.WorkspaceID, cfg.PublicOrigin(), w.AdminEmail, w.Password, w.EmbedCode)
		return
	}
	// PARLEY_CPUPROFILE=FILE writes a CPU profile of the whole run (for
	// `go tool pprof`; the benchmarks use it), stopped at shutdown.
	if path := os.Getenv("PARLEY_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
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

// workspaceFlags takes --name and --admin-email (also -name, --name=…) out
// of args; the rest are the server's configuration flags (the store to
// write to).
func workspaceFlags(args []string) (rest []string, name, adminEmail string) {
	rest, flags := commandFlags(args, "name", "admin-email")
	return rest, flags["name"], flags["admin-email"]
}

// commandFlags takes a subcommand's own flags (-name value, --name=value)
// out of args and leaves the rest to config.Load.
func commandFlags(args []string, names ...string) (rest []string, flags map[string]string) {
	flags = map[string]string{}
	for i := 0; i < len(args); i++ {
		key, value, inline := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || !slices.Contains(names, key) {
			rest = append(rest, args[i])
			continue
		}
		if !inline && i+1 < len(args) {
			i++
			value = args[i]
		}
		flags[key] = value
	}
	return rest, flags
}
