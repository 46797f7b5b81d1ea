// Command pgtemp runs a throwaway PostgreSQL for trying Gatehouse on it
// (make run-pg): it starts a cluster in a new temporary directory, the same
// way the tests do (store/pgtest), creates the database gatehouse and prints
// its URL. Given a command (pgtemp -- gatehouse serve --demo), it runs it with
// GATEHOUSE_DATABASE set to that URL until it ends; without one it keeps the
// server until interrupted. Then it stops the server and removes the
// directory. Even if pgtemp is killed, the cluster's supervisor stops and
// removes it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
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
	url := c.URL("gatehouse")
	fmt.Println(url)
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "PostgreSQL runs; Ctrl-C stops it and removes its data.")
		<-ctx.Done()
		return c.Stop()
	}
	// The command gets Ctrl-C from the terminal as pgtemp does, shuts down,
	// and then the server stops.
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "GATEHOUSE_DATABASE="+url)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w (stopping: %v)", err, c.Stop())
	}
	go func() { // a signal sent to pgtemp alone reaches the command too
		<-ctx.Done()
		cmd.Process.Signal(os.Interrupt)
	}()
	runErr := cmd.Wait()
	if err := c.Stop(); err != nil {
		return err
	}
	var exit *exec.ExitError
	if errors.As(runErr, &exit) && ctx.Err() != nil {
		return nil // interrupted, as intended
	}
	return runErr
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
