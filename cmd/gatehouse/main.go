// Command gatehouse is the Gatehouse server and its administration commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"gatehouse/store"
	"gatehouse/store/postgres"
	"gatehouse/store/sqldb"
	"gatehouse/store/sqlite"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errUsage marks a command-line mistake; main exits with status 2 for it.
var errUsage = errors.New("usage error")

// errConfig marks a configuration the program cannot start with (a malformed
// or unreachable --database): main prints it on one line and exits with 2.
var errConfig = errors.New("configuration error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errConfig):
		fmt.Fprintln(os.Stderr, "gatehouse:", strings.TrimSuffix(err.Error(), ": "+errConfig.Error()))
		os.Exit(2)
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case badInput(err):
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

// badInput reports whether err is about what the command line said rather
// than a failure: a value the store refused, an id or email that names
// nothing, a name already taken. main exits with status 2 for it, as for a
// usage error.
func badInput(err error) bool {
	var invalid *store.ValidationError
	return errors.As(err, &invalid) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDuplicate)
}

const usage = `Gatehouse: the admin console for API tokens.

Usage:
  gatehouse [serve] [flags]                 run the server (the default)
  gatehouse account add --name … --type Client|Vendor|Operations [--module MOD-… …]
                                            prints the new ACC- id
  gatehouse account list
  gatehouse account modules --account ACC-… [--enable MOD-… …] [--disable MOD-… …]
                                            shows (or changes) the account's modules
  gatehouse user add --account ACC-… --email … --name … --role Administrator|Operator|Viewer
  gatehouse user list
  gatehouse user set-role --email … --role …
  gatehouse user set-password --email …
  gatehouse token create --account ACC-… --name … [--module MOD-… …]
  gatehouse audit verify [--anchor SEQ:HASH]   check the audit trail's hash chain
                                            (and that it still holds an anchored record)
  gatehouse seed --tokens N --audit M [--account ACC-…]   bulk data for load tests
  gatehouse backup --out FILE               online, consistent copy of the database
  gatehouse key rotate --new-key-file FILE  re-seal token values under a new key
  gatehouse version

Passwords are read from standard input (one line). Every command takes
--data DIR (GATEHOUSE_DATA, default ./data) and --database (GATEHOUSE_DATABASE).
Run "gatehouse serve -h" for the server's flags.
`

// run is the whole program, callable from tests: args without the program
// name, the environment as a lookup function, and its standard streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "user":
		return userCommand(ctx, args, getenv, stdin, stdout, stderr)
	case "account":
		return accountCommand(ctx, args, getenv, stdout, stderr)
	case "token":
		return tokenCommand(ctx, args, getenv, stdout, stderr)
	case "audit":
		return auditCommand(ctx, args, getenv, stdout, stderr)
	case "seed":
		return seedCommand(ctx, args, getenv, stdout, stderr)
	case "backup":
		return backupCommand(ctx, args, getenv, stdout, stderr)
	case "key":
		return keyCommand(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "gatehouse", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}

// envOr returns the environment variable or, when it is empty, def.
func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// dataOpts are the flags every command takes: where the data directory is
// (the key file, and the SQLite database by default) and which database to
// use.
type dataOpts struct {
	dir      string
	database string
}

// dataFlag adds --data and --database to fs.
func dataFlag(fs *flag.FlagSet, getenv func(string) string) *dataOpts {
	d := &dataOpts{}
	fs.StringVar(&d.dir, "data", envOr(getenv, "GATEHOUSE_DATA", "./data"), "data directory holding the key file and, by default, the database (GATEHOUSE_DATA)")
	fs.StringVar(&d.database, "database", getenv("GATEHOUSE_DATABASE"),
		"the database: sqlite:PATH, or postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=… for PostgreSQL; default sqlite:DATA/gatehouse.db (GATEHOUSE_DATABASE)")
	return d
}

// engine is the engine --database names: "sqlite" with the file's path, or
// "postgres" with the URL.
func (d *dataOpts) engine() (name, target string, err error) {
	switch db := d.database; {
	case db == "":
		return "sqlite", filepath.Join(d.dir, "gatehouse.db"), nil
	case strings.HasPrefix(db, "sqlite:"):
		if path := strings.TrimPrefix(db, "sqlite:"); path != "" {
			return "sqlite", path, nil
		}
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return "postgres", db, nil
	}
	return "", "", fmt.Errorf("--database must be sqlite:PATH or a postgres:// URL, not %q: %w", redactURL(d.database), errConfig)
}

// redactURL hides a URL's password, for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	changed := false
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			changed = true
		}
	}
	// pgx also takes the password as a query parameter.
	if q := u.Query(); q.Has("password") || q.Has("sslpassword") {
		for _, k := range []string{"password", "sslpassword"} {
			if q.Has(k) {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
		changed = true
	}
	if !changed {
		return s
	}
	return u.String()
}

// openStore opens the database --database names (by default the SQLite file
// in the data directory, creating both).
func openStore(ctx context.Context, d *dataOpts) (*sqldb.Store, error) {
	name, target, err := d.engine()
	if err != nil {
		return nil, err
	}
	if name == "postgres" {
		st, err := postgres.Open(ctx, target)
		if errors.Is(err, postgres.ErrConnect) {
			return nil, fmt.Errorf("%w: %w", err, errConfig)
		}
		return st, err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return sqlite.Open(ctx, target)
}

// loadSealer returns the token encryption key from the master key when one
// is given, or from the key file (created on first start).
func loadSealer(masterKey, keyFile string) (*store.Sealer, error) {
	var key []byte
	var err error
	if masterKey != "" {
		key, err = store.ParseKey(masterKey)
		if err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
	} else if key, err = store.LoadOrCreateKey(keyFile); err != nil {
		return nil, err
	}
	return store.NewSealer(key)
}

func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	// --master-key is refused before the flag package would echo its
	// value, the key, in its complaint.
	for _, a := range args {
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && name == "master-key" && fs.Lookup("master-key") != nil {
			fmt.Fprintln(stderr, "--master-key is not accepted: "+string(fs.Lookup("master-key").Value.(refusedFlag)))
			return errUsage
		}
		if a == "--" {
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return nil
}
