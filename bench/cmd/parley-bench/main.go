// Command parley-bench is Parley's load generator and benchmark harness
// (see bench/README.md). Commands:
//
//	parley-bench run -mode quick|full -server BIN -out DIR   run the scenarios
//	parley-bench report -in DIR -md FILE -svg FILE           write the report
//	parley-bench forwarder -addr HOST:PORT                   the baseline server
//	parley-bench idle-client ...                             a child of the idle scenario
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/parleychat/parley/bench/forwarder"
	"github.com/parleychat/parley/bench/loadgen"
	"github.com/parleychat/parley/bench/report"
	"github.com/parleychat/parley/bench/suite"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "report":
		err = writeReport(os.Args[2:])
	case "forwarder":
		err = serveForwarder(os.Args[2:])
	case "idle-client":
		err = idleClient(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: parley-bench run|report|forwarder|idle-client [flags]")
	os.Exit(2)
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	mode := fs.String("mode", "quick", "quick or full")
	server := fs.String("server", "", "path of the built signaling binary")
	out := fs.String("out", "", "directory for the JSON results")
	only := fs.String("only", "", "comma-separated scenarios to run (chat,burst,store,fanout,resume,dc,idle); default all")
	perf := fs.Bool("perf", false, "profile the server with perf during the store scenario's top level")
	limit := fs.Duration("timeout", 40*time.Minute, "give up the whole run after this long")
	convs := fs.Int("conversations", 0, "override the chat scenario's conversations")
	rate := fs.Float64("rate", 0, "run the chat scenario at this one rate (messages/s per conversation)")
	dur := fs.Duration("duration", 0, "override the chat scenario's sending time")
	fs.Parse(args)
	plan, ok := suite.Plans[*mode]
	if !ok {
		return fmt.Errorf("mode %q: want quick or full", *mode)
	}
	if *convs > 0 || *rate > 0 || *dur > 0 {
		// One chat run, shaped like the plan's first.
		plan.Chats = plan.Chats[:1:1]
	}
	if *convs > 0 {
		plan.Chats[0].Conversations = *convs
	}
	if *rate > 0 || *dur > 0 {
		l := plan.Chats[0].Levels[0]
		if *rate > 0 {
			l.Rate = *rate
		}
		if *dur > 0 {
			l.Duration = *dur
		}
		plan.Chats[0].Levels = []loadgen.Level{l}
	}
	if *server == "" || *out == "" {
		return fmt.Errorf("-server and -out are required")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	sel := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sel[s] = true
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	return suite.Run(ctx, suite.Config{Plan: plan, ServerBin: *server, Self: self, OutDir: *out,
		Postgres: os.Getenv("PARLEY_BENCH_POSTGRES"), Only: sel, Perf: *perf})
}

func writeReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	in := fs.String("in", "", "directory with the JSON results")
	md := fs.String("md", "", "markdown file to write")
	svg := fs.String("svg", "", "latency plot (SVG) to write")
	mode := fs.String("mode", "full", "the mode the results were measured in")
	merge := fs.Bool("merge-dc", false, "replace only the data-channel section of -md (an existing report) with the results in -in")
	fs.Parse(args)
	if *merge {
		if *in == "" || *md == "" {
			return fmt.Errorf("-in and -md are required")
		}
		return report.Merge(*in, *md)
	}
	if *in == "" || *md == "" || *svg == "" {
		return fmt.Errorf("-in, -md and -svg are required")
	}
	return report.Write(*in, *md, *svg, *mode)
}

func serveForwarder(args []string) error {
	fs := flag.NewFlagSet("forwarder", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	fs.Parse(args)
	srv := &http.Server{Addr: *addr, Handler: forwarder.New(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}

func idleClient(args []string) error {
	fs := flag.NewFlagSet("idle-client", flag.ExitOnError)
	url := fs.String("url", "", "server base URL")
	tokens := fs.String("tokens", "", "visitor tokens file (Parley); empty for the baseline")
	from := fs.String("from", "127.0.0.1", "source address")
	start := fs.Int("start", 0, "first token line")
	n := fs.Int("n", 0, "connections to open")
	hold := fs.Duration("hold", 10*time.Minute, "hold the connections at most this long")
	fs.Parse(args)
	log.SetFlags(0)
	return loadgen.IdleClient(*url, *tokens, *from, *start, *n, *hold)
}
