package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"gatehouse/store"
	"gatehouse/store/pgtest"
)

func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"admin shutdown", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Severity: "FATAL", Code: "57P02"}, true},
		{"starting up", &pgconn.PgError{Severity: "FATAL", Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Severity: "FATAL", Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Severity: "FATAL", Code: "53300"}, true},
		{"wrapped", fmt.Errorf("list tokens: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"deadlock victim", &pgconn.PgError{Code: "40P01"}, true},
		{"query cancelled", &pgconn.PgError{Code: "57014"}, false},
		{"wrong password", &pgconn.PgError{Severity: "FATAL", Code: "28P01"}, false},
		{"no such database", &pgconn.PgError{Severity: "FATAL", Code: "3D000"}, false},
		{"connect error", &pgconn.ConnectError{}, true},
		{"bad connection", driver.ErrBadConn, true},
		{"closed connection", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"end of file", io.EOF, true},
		{"unexpected end of file", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"refused", refused, true},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"context cancelled", context.Canceled, false},
		{"cancelled while connecting", fmt.Errorf("%w: %w", refused, context.Canceled), false},
		{"no rows", sql.ErrNoRows, false},
		{"other", errors.New("something else"), false},
	} {
		if got := (Dialect{}).Unavailable(tt.err); got != tt.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// A store whose server stops answers store.ErrUnavailable, reads and
// writes alike, without the URL's password; once the server is back the
// same store works again. Sessions the server ended are replaced unseen.
func TestStoreDownAndBack(t *testing.T) {
	t.Parallel()
	c := pgtest.NewCluster(t)
	u, err := url.Parse(c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	const password = "pw-down-and-back" // trust authentication: never asked for
	u.User = url.UserPassword("postgres", password)
	ctx := t.Context()
	st, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	write := func(name string) error {
		_, err := st.CreateAccount(ctx, name, "Vendor", nil)
		return err
	}
	works := func(when string) {
		t.Helper()
		// The server may still end the first sessions as it comes back:
		// allow it a few seconds, as a client's retry would.
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := st.Ping(ctx)
			if err == nil {
				_, err = st.Accounts(ctx)
			}
			if err == nil {
				err = write("After " + when)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
				t.Fatalf("%s: %v", when, err)
			}
			t.Logf("%s: %v; trying again", when, err)
			time.Sleep(50 * time.Millisecond)
		}
	}
	works("opening")

	// Every session ended by the server (pg_terminate_backend: 57P01).
	admin, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'postgres' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	works("the sessions were ended")

	for _, mode := range []pgtest.StopMode{pgtest.Fast, pgtest.Immediate} {
		if err := c.StopServer(mode); err != nil {
			t.Fatal(err)
		}
		for what, err := range map[string]error{
			"Ping":          st.Ping(ctx),
			"Accounts":      func() error { _, err := st.Accounts(ctx); return err }(),
			"CreateAccount": write("During the outage"),
			"AttemptLogin": func() error {
				_, err := st.AttemptLogin(ctx, "ip:192.0.2.1", "email:ada@example.com")
				return err
			}(),
			"ForgiveLogin": st.ForgiveLogin(ctx, []string{"email:ada@example.com"}, []string{"ip:192.0.2.1"}),
		} {
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s stopped: %s = %v, want store.ErrUnavailable", mode, what, err)
			} else if strings.Contains(err.Error(), password) {
				t.Errorf("%s stopped: %s's error shows the password: %v", mode, what, err)
			}
		}
		if err := c.StartServer(); err != nil {
			t.Fatal(err)
		}
		works(fmt.Sprintf("the %s stop", mode))
	}
}
