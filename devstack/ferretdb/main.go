// Command ferretdb-devstack runs FerretDB, a MongoDB wire-protocol server, on the SQLite
// backend for kflow's local stack. It embeds the upstream ferretdb package because a plain
// `go install` of FerretDB's own command panics without its generated version files.
//
// Usage:
//
//	ferretdb-devstack -listen 127.0.0.1:27017 -sqlite-dir /abs/state/mongo/data
//
// It logs to stderr and stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	sqliteDir := flag.String("sqlite-dir", "", "directory holding one SQLite file per database (created if missing)")
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Parse()

	if err := run(*listen, *sqliteDir, *debug); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-devstack: %s\n", err)
		os.Exit(1)
	}
}

func run(listen, sqliteDir string, debug bool) error {
	if sqliteDir == "" {
		return fmt.Errorf("-sqlite-dir is required")
	}

	dir, err := filepath.Abs(sqliteDir)
	if err != nil {
		return err
	}

	if err = os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// The SQLite backend wants a file: URI naming a directory, with a trailing slash.
	sqliteURL := (&url.URL{Scheme: "file", Opaque: filepath.ToSlash(dir) + "/"}).String()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Info("starting", "listen", listen, "sqlite", sqliteURL)

	return f.Run(ctx)
}
