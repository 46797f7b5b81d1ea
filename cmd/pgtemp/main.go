// Command pgtemp runs a throwaway PostgreSQL for trying Gatehouse on it
// (make run-pg): it starts a cluster in a new temporary directory, the same
// way the tests do (store/pgtest), creates the database gatehouse, prints its
// URL and keeps the server running until interrupted; then it stops the
// server and removes the directory. Even if pgtemp is killed, the cluster's
// supervisor stops and removes it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5"

	"gatehouse/store/pgtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtemp:", err)
		os.Exit(1)
	}
}

func run() error {
	// Listen before starting, so that a Ctrl-C during the start stops too.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	c, err := pgtest.Start()
	if err != nil {
		return err
	}
	if err := createDatabase(ctx, c.URL("postgres"), "gatehouse"); err != nil {
		return fmt.Errorf("%w (stopping: %v)", err, c.Stop())
	}
	fmt.Println(c.URL("gatehouse"))
	fmt.Fprintln(os.Stderr, "PostgreSQL runs; Ctrl-C stops it and removes its data.")
	<-ctx.Done()
	return c.Stop()
}

func createDatabase(ctx context.Context, admin, name string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize())
	return err
}
