package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"gatehouse/store/sqldb"
)

// Store is the PostgreSQL engine's store.
type Store = sqldb.Store

// Advisory lock keys: the migrations, and the audit chain's one writer.
const (
	migrationLock  = 0x6761_7465_0001 // "gate" 1
	auditChainLock = 0x6761_7465_0002
)

// ErrConnect marks a URL that does not parse or a server that does not
// answer: a mistake in the configuration rather than a fault of the store.
var ErrConnect = errors.New("cannot connect to PostgreSQL")

// Open connects to the PostgreSQL database at url (postgres://…) and brings
// its schema up to date. An unreachable server is an error within the
// context's deadline, never a hang.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: the database URL is not valid: %s", ErrConnect, pgErrText(err))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	// Times come back in UTC, as the store keeps them.
	cfg.RuntimeParams["timezone"] = "UTC"
	db := stdlib.OpenDB(*cfg)
	// Readers and writers run side by side; the pool bounds what one
	// replica asks of the server.
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout+time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w at %s:%d: %s", ErrConnect, cfg.Host, cfg.Port, pgErrText(err))
	}
	st, err := sqldb.New(ctx, db, Dialect{conn: cfg}, migrations)
	if err != nil {
		return nil, err
	}
	// The change feed reads on a connection of its own (SPEC §7: a replica
	// must show its cache is current even while requests hold the pool).
	feed := stdlib.OpenDB(*cfg)
	feed.SetMaxOpenConns(1)
	feed.SetMaxIdleConns(1)
	st.SetFeedPool(feed)
	return st, nil
}

// pgErrText is an error's message without the URL (and its password) that
// some connection errors repeat.
func pgErrText(err error) string {
	// pgx lists every address it tried on a line of its own: one line, each
	// reason once.
	var parts []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" && !slices.Contains(parts, line) {
			parts = append(parts, line)
		}
	}
	msg := strings.Join(parts, " ")
	if i := strings.Index(msg, "postgres://"); i >= 0 {
		return msg[:i] + "(the URL)"
	}
	if i := strings.Index(msg, "postgresql://"); i >= 0 {
		return msg[:i] + "(the URL)"
	}
	return msg
}

// Dialect is PostgreSQL's side of the SQL the engines share.
type Dialect struct {
	// conn is how the change-log listener connects: the store's own
	// settings, on a connection of its own.
	conn *pgx.ConnConfig
}

// Rebind numbers the ? placeholders $1, $2, …, leaving quoted text alone.
func (Dialect) Rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	quote := byte(0)
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// IsUniqueViolation matches SQLSTATE 23505.
func (Dialect) IsUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// Unavailable reports whether err means that the server cannot be reached
// for now, judged by the error's type and SQLSTATE, never its text:
//
//   - an error the server sent with SQLSTATE class 08 (connection
//     exception), 57P01 (admin_shutdown: a fast or immediate shutdown ended
//     the session), 57P02 (crash_shutdown), 57P03 (cannot_connect_now: the
//     server is starting, shutting down or recovering), 53300
//     (too_many_connections), or 40001 and 40P01 (a serialization failure,
//     a deadlock victim: the transaction was rolled back and the same
//     request may succeed in a moment, so it is answered 503 with
//     Retry-After, never 500); any other SQLSTATE, even during connection
//     (a wrong password, a missing database), is a fault of the
//     configuration or the statement, not an outage;
//   - a connection attempt that failed without the server's word
//     (pgconn.ConnectError: refused, unreachable, timed out);
//   - a connection that broke or had been closed under a statement:
//     driver.ErrBadConn (database/sql gives up on a bad connection),
//     pgconn.ErrConnClosed, an end of file, a network error.
//
// A cancelled context is the client going away, not an outage.
func (Dialect) Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case strings.HasPrefix(code, "08"), code == "57P01", code == "57P02", code == "57P03", code == "53300",
			code == "40001", code == "40P01":
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr *net.OpError
	return errors.As(err, &connectErr) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &netErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// NoCase is lower(expr): every text column collates "C", so lower() folds
// ASCII letters, as SQLite's NOCASE does, and the name indexes are on it.
func (Dialect) NoCase(expr string) string { return "lower(" + expr + ")" }

// Like is LIKE, case-sensitive, for like; for ilike both sides are folded:
// ASCII patterns with lower(), which the trigram indexes serve, others with
// ICU's Unicode-aware lower().
func (Dialect) Like(col, pattern string, fold bool) (string, any) {
	switch {
	case !fold:
		return col + ` LIKE ? ESCAPE '\'`, sqldb.LikePattern(pattern)
	case sqldb.IsASCII(pattern):
		return "lower(" + col + `) LIKE ? ESCAPE '\'`, sqldb.LikePattern(strings.ToLower(pattern))
	}
	return "lower(" + col + ` COLLATE "und-x-icu") LIKE ? ESCAPE '\'`, sqldb.LikePattern(strings.ToLower(pattern))
}

// Search matches substrings of id, name and description ignoring case,
// through the trigram indexes on their lower() forms.
func (Dialect) Search(q string) (string, []any) {
	p := sqldb.EscapeLike(strings.ToLower(q))
	return `(lower(t.name) LIKE ? ESCAPE '\' OR lower(t.id) LIKE ? ESCAPE '\' OR lower(t.description) LIKE ? ESCAPE '\')`, []any{p, p, p}
}

// LockAuditChain takes the chain's transaction-scoped advisory lock: one
// writer at a time reads the head and appends, across every replica.
func (Dialect) LockAuditChain(ctx context.Context, tx *sqldb.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(auditChainLock))
	return err
}

// ForUpdate locks the rows a SELECT reads until the transaction ends. With
// ORDER BY they are locked in that order, so transactions that lock the same
// rows in the same order wait for each other instead of deadlocking.
func (Dialect) ForUpdate() string { return " FOR UPDATE" }

// LockMigrations takes the session advisory lock for migrations on conn, so
// that replicas starting together migrate one after the other.
func (Dialect) LockMigrations(ctx context.Context, conn *sql.Conn) (func(), error) {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return nil, err
	}
	return func() {
		conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	}, nil
}

// The channel that wakes replicas when the change log grows.
const changeChannel = "gatehouse_token_changes"

// ListenerName is the application_name of the change-log listener's
// connection, which pg_stat_activity shows.
const ListenerName = "gatehouse-listener"

// NotifyTokenChange queues the wake-up, which PostgreSQL delivers when tx
// commits. NOTIFY takes a lock at commit that serialises committing
// transactions, which is why only the rare changes that alter a verify
// answer send one.
func (Dialect) NotifyTokenChange(ctx context.Context, tx *sqldb.Tx) error {
	_, err := tx.ExecContext(ctx, `NOTIFY `+changeChannel)
	return err
}

// ListenTokenChanges listens on a connection of its own and calls wake for
// each notification until ctx ends or the connection fails.
func (d Dialect) ListenTokenChanges(ctx context.Context, listening, wake func()) error {
	if d.conn == nil {
		return errors.New("no connection settings to listen with")
	}
	cfg := d.conn.Copy()
	cfg.RuntimeParams["application_name"] = ListenerName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+changeChannel); err != nil {
		return err
	}
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
