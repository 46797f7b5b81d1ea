package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/handlers"
	"gatehouse/store"
	"gatehouse/store/sqldb"
)

type serveConfig struct {
	addr, publicURL     string
	data                *dataOpts
	demo                bool
	masterKey, keyFile  string
	tlsCert, tlsKey     string
	trustedProxies      string
	logLevel, logFormat string
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.addr, "addr", envOr(getenv, "GATEHOUSE_ADDR", "127.0.0.1:8080"), "address to listen on (GATEHOUSE_ADDR)")
	data := dataFlag(fs, getenv)
	fs.StringVar(&cfg.publicURL, "public-url", getenv("GATEHOUSE_PUBLIC_URL"), "base URL clients use, e.g. https://gatehouse.example (GATEHOUSE_PUBLIC_URL; default http://ADDR)")
	fs.BoolVar(&cfg.demo, "demo", getenv("GATEHOUSE_DEMO") == "true" || getenv("GATEHOUSE_DEMO") == "1", "fill an empty database with demo accounts, users and tokens (GATEHOUSE_DEMO)")
	cfg.masterKey = getenv("GATEHOUSE_MASTER_KEY") // never a flag: ps would show it
	refuseMasterKeyFlag(fs)
	fs.StringVar(&cfg.keyFile, "key-file", getenv("GATEHOUSE_KEY_FILE"), "key file, created with mode 0600 when missing (GATEHOUSE_KEY_FILE; default DATA/gatehouse.key); or set GATEHOUSE_MASTER_KEY to the base64 key")
	fs.StringVar(&cfg.tlsCert, "tls-cert", getenv("GATEHOUSE_TLS_CERT"), "TLS certificate file (GATEHOUSE_TLS_CERT)")
	fs.StringVar(&cfg.tlsKey, "tls-key", getenv("GATEHOUSE_TLS_KEY"), "TLS private key file (GATEHOUSE_TLS_KEY)")
	fs.StringVar(&cfg.trustedProxies, "trusted-proxies", getenv("GATEHOUSE_TRUSTED_PROXIES"), "comma-separated CIDRs whose X-Forwarded-For is believed (GATEHOUSE_TRUSTED_PROXIES)")
	fs.StringVar(&cfg.logLevel, "log-level", envOr(getenv, "GATEHOUSE_LOG_LEVEL", "info"), "debug, info, warn or error (GATEHOUSE_LOG_LEVEL)")
	fs.StringVar(&cfg.logFormat, "log-format", envOr(getenv, "GATEHOUSE_LOG_FORMAT", "text"), "text or json (GATEHOUSE_LOG_FORMAT)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cfg.data = data
	if cfg.keyFile == "" {
		cfg.keyFile = filepath.Join(cfg.data.dir, "gatehouse.key")
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		fmt.Fprintln(stderr, "--tls-cert and --tls-key go together")
		return errUsage
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		fmt.Fprintf(stderr, "unknown log level %q\n", cfg.logLevel)
		return errUsage
	}
	var logger *slog.Logger
	switch cfg.logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	default:
		fmt.Fprintf(stderr, "unknown log format %q\n", cfg.logFormat)
		return errUsage
	}

	ipExtractor := echo.ExtractIPDirect()
	if cfg.trustedProxies != "" {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, cidr := range strings.Split(cfg.trustedProxies, ",") {
			_, n, err := net.ParseCIDR(strings.TrimSpace(cidr))
			if err != nil {
				fmt.Fprintf(stderr, "trusted proxy %q is not a CIDR such as 10.0.0.0/8\n", cidr)
				return errUsage
			}
			opts = append(opts, echo.TrustIPRange(n))
		}
		ipExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}

	// Before the database is opened (and migrated, or seeded): a second
	// serve on a SQLite database stops here.
	release, err := lockServe(cfg.data)
	if err != nil {
		return err
	}
	defer release()
	st, err := openStore(ctx, cfg.data)
	if err != nil {
		return err
	}
	warnOpenFiles(cfg, logger)
	defer st.Close()
	sealer, err := loadSealer(cfg.masterKey, cfg.keyFile)
	if err != nil {
		return err
	}
	if cfg.demo {
		seeded, err := st.SeedDemo(ctx, sealer)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		if seeded {
			logger.Info("demo data created")
		}
	}
	// The list's row counts must match the tokens; repair them if anything
	// wrote to the tokens behind their triggers.
	if wrong, err := st.RecountTokens(ctx); err != nil {
		return err
	} else if wrong > 0 {
		logger.Warn("token counts were out of step with the tokens and have been rebuilt", "counts", wrong)
	}
	// Each process logs the head at its start; after that, the hourly job
	// does, on whichever process claims it.
	head, err := logAuditHead(ctx, st, logger, store.AuditAnchor{})
	if err != nil {
		logger.Error("log the audit head", "error", err)
	}

	// A new installation: say how to make the first account and
	// administrator, with this server's own database in the commands.
	if has, err := st.HasUsers(ctx); err != nil {
		return err
	} else if !has {
		mods, err := st.Modules(ctx)
		if err != nil {
			return err
		}
		printFirstUserHint(stderr, logger, cfg, mods)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if cfg.tlsCert != "" {
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()
	if cfg.publicURL == "" {
		cfg.publicURL = base
	}
	secure := cfg.tlsCert != "" || strings.HasPrefix(cfg.publicURL, "https://")

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = ipExtractor
	h := handlers.New(handlers.Deps{Store: st, Sealer: sealer, Logger: logger, PublicURL: cfg.publicURL, TLS: secure})
	h.Register(e)

	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if cfg.tlsCert != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}

	fmt.Fprintf(stdout, "Gatehouse %s listening on %s\n", version, base)
	if cfg.demo {
		fmt.Fprintf(stdout, "Demo logins (password %q):\n", store.DemoPassword)
		for _, u := range store.DemoUsers {
			fmt.Fprintf(stdout, "  %-22s %s\n", u.Email, u.Role)
		}
	}

	go runJobs(ctx, st, logger, serveJobs(st, logger, head), jobTick)
	go h.RunFlusher(ctx)
	go h.RunFeed(ctx)

	errc := make(chan error, 1)
	go func() {
		if cfg.tlsCert != "" {
			errc <- srv.ServeTLS(ln, cfg.tlsCert, cfg.tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// The requests are done: write the last access and rejected calls they
	// left in memory.
	if err := h.Flush(shutdownCtx, true); err != nil {
		logger.Error("flush last access at shutdown", "error", err)
	}
	// On SQLite this process is the only one counting refused calls: their
	// minutes, the current one too, are complete and get their records now,
	// not at the next start. (A replica leaves them to the others.)
	if engine, _, _ := cfg.data.engine(); engine != "postgres" {
		if _, err := st.RecordPendingRejections(shutdownCtx, st.Now().Add(time.Minute+store.RejectionGrace)); err != nil {
			logger.Error("record refused calls at shutdown", "error", err)
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// logAuditHead logs the anchor of the audit trail's newest record unless it
// is last's, and returns the one it saw (last when it could not read one).
// Shipped off the machine with the rest of the log, these lines let
// "gatehouse audit verify --anchor" show that no record up to them was
// later removed or rewritten.
func logAuditHead(ctx context.Context, st *sqldb.Store, logger *slog.Logger, last store.AuditAnchor) (store.AuditAnchor, error) {
	head, err := st.AuditHead(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return last, nil
	case err != nil:
		return last, fmt.Errorf("read the audit head: %w", err)
	case head != last:
		logger.Info("audit head", "record", head.ID, "anchor", head.String())
	}
	return head, nil
}

// warnOpenFiles warns when the data directory or the SQLite database can be
// read by other users of the machine: Gatehouse creates them private (0700,
// 0600), but they may have been made or copied by hand. (A key file others
// can read is refused outright.)
func warnOpenFiles(cfg serveConfig, logger *slog.Logger) {
	paths := []string{cfg.data.dir}
	if engine, target, err := cfg.data.engine(); err == nil && engine == "sqlite" {
		paths = append(paths, target)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		fix := "chmod 600 "
		if fi.IsDir() {
			fix = "chmod 700 "
		}
		logger.Warn("other users of this machine can open "+p+", which holds secrets: "+fix+p,
			"path", p, "mode", fi.Mode().Perm().String())
	}
}

// firstUserCommands are the commands that make a database's first account
// and administrator, naming the database as serve was given it (a
// PostgreSQL URL's password hidden); redacted reports whether one was.
func firstUserCommands(d *dataOpts, mods []store.Module) (commands []string, redacted bool) {
	var db string
	switch name, target, _ := d.engine(); {
	case d.database == "":
		db = "--data " + shellQuote(absPath(d.dir))
	case name == "sqlite":
		db = "--database " + shellQuote("sqlite:"+absPath(target))
	default:
		db = "--database " + shellQuote(redactURL(d.database))
		redacted = db != "--database "+shellQuote(d.database)
	}
	add := "ACCOUNT=$(gatehouse account add " + db + " --name 'Example Ltd' --type Operations"
	for _, m := range mods {
		add += " --module " + m.ID
	}
	return []string{
		add + ")",
		"gatehouse user add " + db + ` --account "$ACCOUNT" --email admin@example.com --name 'Alex Admin' --role Administrator`,
	}, redacted
}

// printFirstUserHint tells the operator of a database without users how to
// make the first account and administrator: as plain lines to paste, or,
// with the JSON log format, as one log record.
func printFirstUserHint(stderr io.Writer, logger *slog.Logger, cfg serveConfig, mods []store.Module) {
	cmds, redacted := firstUserCommands(cfg.data, mods)
	const first = "This database has no users yet. Create the first account and its administrator (the commands can run while the server does; user add reads the password from standard input):"
	if cfg.logFormat == "json" {
		logger.Warn(first, "account_add", cmds[0], "user_add", cmds[1])
		return
	}
	fmt.Fprintln(stderr, first)
	for _, c := range cmds {
		fmt.Fprintln(stderr, "  "+c)
	}
	ids := make([]string, len(mods))
	for i, m := range mods {
		ids[i] = m.ID + " " + m.Name
	}
	fmt.Fprintf(stderr, "The account gets every module (%s): leave out those it should not have; \"gatehouse account modules\" changes them later.\n", strings.Join(ids, ", "))
	if redacted {
		fmt.Fprintln(stderr, "The password in --database is hidden here: put it back, or set GATEHOUSE_DATABASE and leave --database out.")
	}
}

// absPath is p made absolute, so that a command copied from the log works
// from any directory; p itself if that fails.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// shellQuote quotes s for a POSIX shell, unless it needs none.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
