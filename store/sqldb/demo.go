package sqldb

import (
	"context"
	"fmt"
	"gatehouse/store"
	"time"
)

type demoToken struct {
	name, description string
	modules           []string
	by                int // index into the account's users, -1 for the command line
	ageDays           int
	lastAccessHours   int // 0: never used
	ip, agent         string
	history           []string // "disable:reason", "enable", "delete"
}

// SeedDemo fills an empty database with the demo accounts of SPEC §6 and
// reports whether it did; a database that already has accounts is left alone.
func (s *Store) SeedDemo(ctx context.Context, sealer *store.Sealer) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	mods, err := s.Modules(ctx)
	if err != nil {
		return false, err
	}
	all := make([]string, len(mods))
	for i, m := range mods {
		all[i] = m.ID
	}
	const (
		access = "MOD-1756"
		acct   = "MOD-9042"
		market = "MOD-0478"
		bill   = "MOD-2210"
		proc   = "MOD-3385"
		help   = "MOD-4617"
		notif  = "MOD-5823"
		cat    = "MOD-6094"
	)

	if err := s.seedAccount(ctx, sealer, "Northwind Traders", store.AccountClient, all,
		[]store.NewUser{
			{Email: "admin@example.com", Name: "Alex Morgan", Role: store.RoleAdministrator},
			{Email: "operator@example.com", Name: "Oliver Perez", Role: store.RoleOperator},
			{Email: "viewer@example.com", Name: "Vera Quinn", Role: store.RoleViewer},
			{Email: "priya@example.com", Name: "Priya Shah", Role: store.RoleAdministrator},
		},
		[]demoToken{
			{"Production billing sync", "Pushes approved invoices to the finance system every hour.", []string{bill, acct}, 0, 190, 1, "203.0.113.24", "billing-sync/3.2 (+python-requests/2.31)", nil},
			{"CI pipeline", "Used by the deployment pipeline to register new subscriptions.", []string{market}, 3, 160, 2, "198.51.100.7", "GitLab-Runner/17.4", nil},
			{"Grafana exporter", "Read-only metrics for the operations dashboard.", []string{access, acct, market, help}, 0, 140, 0, "", "", nil},
			{"Partner portal EU", "Lets the EU partner portal look up licensees.", []string{acct}, 3, 120, 30, "192.0.2.181", "PartnerPortal/2.0 (+https://partners.example.eu)", []string{"disable:Partner contract under review", "enable"}},
			{"Helpdesk integration", "Opens helpdesk cases from the monitoring system.", []string{help, notif}, 0, 95, 5, "203.0.113.90", "curl/8.5.0", nil},
			{"Legacy ERP connector", "Old ERP bridge, kept for the year-end close.", []string{proc, bill}, -1, 400, 24 * 210, "198.51.100.33", "Java/1.8.0_402", []string{"disable:Replaced by the ERP v2 connector"}},
			{"Nightly license report", "", []string{market, acct}, 0, 75, 9, "192.0.2.10", "Go-http-client/2.0", nil},
			{"Marketing site \"Buy now\" widget", "Shows prices on the public web site.", []string{cat}, 3, 60, 0, "", "", []string{"disable:Widget retired until the spring campaign"}},
			{"O'Reilly reseller feed", "Catalogue feed for a reseller.", []string{cat, market}, 0, 44, 3, "203.0.113.5", "ResellerFeed/1.4", nil},
			{"Staging smoke tests", "Run after every staging deploy.", nil, 3, 30, 0, "", "", nil},
			{"Data warehouse export", "Nightly export of subscriptions and invoices.", []string{bill, market, acct}, 0, 21, 14, "198.51.100.200", "airflow/2.9.1", []string{"disable:Suspicious traffic from an unknown address", "enable"}},
			{"Notifications relay", "Forwards platform notifications to the chat system.", []string{notif}, 3, 9, 1, "192.0.2.77", "relay/0.9", nil},
			{"Access review bot", "Quarterly access review; manages other tokens.", []string{access}, 0, 4, 0, "", "", nil},
			{"Old test token", "Created for a one-off test.", []string{market}, 0, 200, 0, "", "", []string{"delete"}},
		}); err != nil {
		return false, err
	}
	if err := s.seedAccount(ctx, sealer, "Globex Software", store.AccountVendor, []string{access, acct, cat, notif},
		[]store.NewUser{{Email: "admin@globex.example", Name: "Hank Scorpio", Role: store.RoleAdministrator}},
		[]demoToken{
			{"Globex catalogue publisher", "Publishes the Globex product catalogue.", []string{cat}, 0, 50, 2, "203.0.113.150", "globex-publisher/1.0", nil},
			{"Globex access sync", "", []string{access, acct}, 0, 20, 0, "", "", []string{"disable:Rotated"}},
		}); err != nil {
		return false, err
	}
	return true, nil
}

func (s *Store) seedAccount(ctx context.Context, sealer *store.Sealer, name, typ string, modules []string, users []store.NewUser, tokens []demoToken) error {
	acc, err := s.CreateAccount(ctx, name, typ, modules)
	if err != nil {
		return err
	}
	var created []store.User
	for _, nu := range users {
		nu.AccountID = acc.ID
		nu.Password = store.DemoPassword
		u, err := s.CreateUser(ctx, nu)
		if err != nil {
			return fmt.Errorf("demo user %s: %w", nu.Email, err)
		}
		created = append(created, u)
	}
	real := s.now()
	// The history happens in the past: a copy of the store whose clock is set
	// back writes it with the right dates.
	past := &Store{db: s.db, d: s.d}
	for _, dt := range tokens {
		at := real.Add(-time.Duration(dt.ageDays) * 24 * time.Hour)
		past.now = func() time.Time { return at }
		actor := store.SystemActor
		if dt.by >= 0 {
			actor = store.UserActor(created[dt.by], "192.0.2.1", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36")
		}
		t, _, err := past.CreateToken(ctx, sealer, actor, acc.ID, store.NewToken{Name: dt.name, Description: dt.description, ModuleIDs: dt.modules})
		if err != nil {
			return fmt.Errorf("demo token %q: %w", dt.name, err)
		}
		for i, step := range dt.history {
			at = at.Add(time.Duration(dt.ageDays*24/(len(dt.history)+1)) * time.Hour)
			op := created[0]
			if len(created) > 1 && i%2 == 0 {
				op = created[1]
			}
			actor := store.UserActor(op, "192.0.2.1", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15")
			switch {
			case step == "enable":
				t, err = past.EnableToken(ctx, actor, acc.ID, t.ID, t.Version)
			case step == "delete":
				err = past.DeleteToken(ctx, actor, acc.ID, t.ID, t.Version)
			default:
				t, err = past.DisableToken(ctx, actor, acc.ID, t.ID, t.Version, step[len("disable:"):])
			}
			if err != nil {
				return fmt.Errorf("demo token %q %s: %w", dt.name, step, err)
			}
		}
		if dt.lastAccessHours > 0 {
			if err := s.RecordAccesses(ctx, []store.Access{{TokenID: t.ID, At: real.Add(-time.Duration(dt.lastAccessHours) * time.Hour), IP: dt.ip, UserAgent: dt.agent}}); err != nil {
				return err
			}
		}
	}
	return nil
}
