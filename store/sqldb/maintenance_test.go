package sqldb_test

import (
	"bytes"
	"context"
	"gatehouse/store"
	"gatehouse/store/sqldb"
	"gatehouse/store/sqlite"
	"gatehouse/store/storetest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maintenanceFixture is a fixture with three tokens: one Active, one
// Disabled and one Deleted. It returns their ids and values.
func maintenanceFixture(t *testing.T) (fixture, map[string]string) {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t)
	values := map[string]string{}
	var toks []store.Token
	for _, name := range []string{"Active one", "Disabled one", "Deleted one"} {
		tok, v, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		values[tok.ID] = v
		toks = append(toks, tok)
	}
	if _, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, toks[1].ID, toks[1].Version, "paused"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeleteToken(ctx, f.actor, f.acc.ID, toks[2].ID, toks[2].Version); err != nil {
		t.Fatal(err)
	}
	return f, values
}

func count(t *testing.T, s *sqlite.Store, table string) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func sealedValues(t *testing.T, s *sqlite.Store) map[string][]byte {
	t.Helper()
	rows, err := s.DB().Query(`SELECT id, secret_sealed FROM api_tokens`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var id string
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			t.Fatal(err)
		}
		out[id] = b
	}
	return out
}

func TestBackupIsACompleteVerifiableCopy(t *testing.T) {
	storetest.SQLiteOnly(t)
	ctx := context.Background()
	f, _ := maintenanceFixture(t)
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := f.s.Backup(ctx, path); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: size %d, mode %o; want data and 0600", fi.Size(), fi.Mode().Perm())
	}
	b, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer b.Close()
	for _, table := range []string{"api_tokens", "audit_records", "users", "accounts"} {
		if got, want := count(t, b, table), count(t, f.s, table); got != want || want == 0 {
			t.Errorf("%s: backup has %d rows, the database %d", table, got, want)
		}
	}
	res, err := b.VerifyAudit(ctx)
	if err != nil || res.BadID != "" || res.Count != count(t, f.s, "audit_records") {
		t.Errorf("VerifyAudit on the backup: %+v %v", res, err)
	}

	// An existing file is never overwritten, not even by a second backup.
	before, _ := os.ReadFile(path)
	err = f.s.Backup(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Backup over an existing file: err = %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the existing backup file was changed")
	}
}

func TestRotateKeyResealsEveryToken(t *testing.T) {
	ctx := context.Background()
	f, values := maintenanceFixture(t)
	newKey, err := store.NewSealer([]byte("fedcba9876543210fedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	var hashesBefore = map[string][]byte{}
	rows, _ := f.s.DB().Query(`SELECT id, secret_hash FROM api_tokens`)
	for rows.Next() {
		var id string
		var h []byte
		rows.Scan(&id, &h)
		hashesBefore[id] = h
	}
	rows.Close()

	n, err := f.s.RotateKey(ctx, f.sealer, newKey)
	if err != nil || n != len(values) {
		t.Fatalf("RotateKey = %d, %v; want %d tokens (Deleted included)", n, err, len(values))
	}
	for id, sealed := range sealedValues(t, f.s) {
		if v, err := newKey.Open(id, sealed); err != nil || v != values[id] {
			t.Errorf("%s does not open with the new key to its value: %v", id, err)
		}
		if _, err := f.sealer.Open(id, sealed); err == nil {
			t.Errorf("%s still opens with the old key", id)
		}
	}
	rows, _ = f.s.DB().Query(`SELECT id, secret_hash FROM api_tokens`)
	for rows.Next() {
		var id string
		var h []byte
		rows.Scan(&id, &h)
		if !bytes.Equal(h, hashesBefore[id]) {
			t.Errorf("%s: secret_hash changed", id)
		}
	}
	rows.Close()

	// Running it again with the old key finds the values already rotated.
	if _, err := f.s.RotateKey(ctx, f.sealer, newKey); err == nil || !strings.Contains(err.Error(), "already sealed with the new key") {
		t.Errorf("second rotation: err = %v", err)
	}
	// Rotating to the same key is refused.
	if _, err := f.s.RotateKey(ctx, newKey, newKey); err == nil || !strings.Contains(err.Error(), "same as the current key") {
		t.Errorf("rotation to the same key: err = %v", err)
	}
}

func TestRotateKeyChangesNothingWhenAValueIsBad(t *testing.T) {
	ctx := context.Background()
	newKey, err := store.NewSealer([]byte("fedcba9876543210fedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	flipLast := func(db *sqldb.DB, id string) error {
		var sealed []byte
		if err := db.QueryRow(`SELECT secret_sealed FROM api_tokens WHERE id = ?`, id).Scan(&sealed); err != nil {
			return err
		}
		sealed[len(sealed)-1] ^= 1
		_, err := db.Exec(`UPDATE api_tokens SET secret_sealed = ? WHERE id = ?`, sealed, id)
		return err
	}
	otherHash := func(db *sqldb.DB, id string) error {
		_, err := db.Exec(`UPDATE api_tokens SET secret_hash = ? WHERE id = ?`, make([]byte, 32), id)
		return err
	}
	for _, tc := range []struct {
		name    string
		corrupt func(*sqldb.DB, string) error
		want    string
	}{
		{"flipped ciphertext byte", flipLast, "does not open"},
		{"hash of another value", otherHash, "does not match its stored hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, values := maintenanceFixture(t)
			var victim string
			for id := range values {
				if victim == "" || id > victim { // the last one in id order, so earlier rows are re-sealed first
					victim = id
				}
			}
			if err := tc.corrupt(f.s.DB(), victim); err != nil {
				t.Fatal(err)
			}
			before := sealedValues(t, f.s)
			_, err := f.s.RotateKey(ctx, f.sealer, newKey)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), victim) {
				t.Fatalf("RotateKey with a bad value: err = %v", err)
			}
			for id, v := range values {
				if strings.Contains(err.Error(), v) {
					t.Errorf("the error shows the value of %s", id)
				}
			}
			after := sealedValues(t, f.s)
			for id := range before {
				if !bytes.Equal(before[id], after[id]) {
					t.Errorf("%s was changed by a failed rotation", id)
				}
			}
		})
	}
}
