package store

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestTokenValueFormatAndParse(t *testing.T) {
	v := NewTokenValue("TKN-1234-5678")
	if !regexp.MustCompile(`^idt:TKN-1234-5678:[0-9A-Za-z]{49}$`).MatchString(v) {
		t.Fatalf("value %q is not idt:TKN-…:<49 base62>", v)
	}
	if NewTokenValue("TKN-1234-5678") == v {
		t.Fatal("two values are equal")
	}
	id, err := ParseTokenValue(v)
	if err != nil || id != "TKN-1234-5678" {
		t.Fatalf("ParseTokenValue = %q, %v", id, err)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	bad := []string{
		"",
		"idt:",
		v[:len(v)-1],
		v + "0",
		strings.Replace(v, "idt:", "idx:", 1),
		strings.Replace(v, "TKN-1234-5678", "TKN-1234-567X", 1),
		strings.Replace(v, "TKN-1234-5678", "ACC-1234-5678", 1),
		flip(v, 30),           // a secret character: the checksum no longer matches
		flip(v, len(v)-1),     // the checksum itself
		v[:30] + "!" + v[31:], // not base62
	}
	for _, b := range bad {
		if _, err := ParseTokenValue(b); !errors.Is(err, ErrMalformedToken) {
			t.Errorf("ParseTokenValue(%q) err = %v, want ErrMalformedToken", b, err)
		}
	}
}

func TestSealerRoundTripAndBinding(t *testing.T) {
	s := testSealer(t)
	sealed := s.Seal("TKN-1111-2222", "idt:secret")
	if strings.Contains(string(sealed), "idt:secret") {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := s.Open("TKN-1111-2222", sealed)
	if err != nil || got != "idt:secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open("TKN-3333-4444", sealed); err == nil {
		t.Error("a sealed value opened under another token id")
	}
	other, _ := NewSealer([]byte("ffffffffffffffffffffffffffffffff"))
	if _, err := other.Open("TKN-1111-2222", sealed); err == nil {
		t.Error("a sealed value opened under another key")
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil || len(k1) != KeySize {
		t.Fatalf("create: %d bytes, %v", len(k1), err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("reload gave a different key: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("world-readable key file: err = %v", err)
	}
	if _, err := ParseKey("bm90IGEga2V5"); err == nil {
		t.Error("ParseKey accepted a short key")
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("s3cret password")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("HashPassword = %q, %v", h, err)
	}
	if ok, err := CheckPassword(h, "s3cret password"); !ok || err != nil {
		t.Errorf("right password: %v, %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "s3cret passwore"); ok {
		t.Error("wrong password accepted")
	}
	if _, err := CheckPassword("$bcrypt$x", "a"); err == nil {
		t.Error("malformed hash accepted")
	}
}

// FuzzParseTokenValue: no input panics, and whatever is accepted names a
// well-formed token id and carries a matching checksum.
func FuzzParseTokenValue(f *testing.F) {
	v := NewTokenValue("TKN-1234-5678")
	for _, s := range []string{v, v[:len(v)-1], v + "x", "idt:", "idt:TKN-1234-5678:", "", "\xff", strings.Repeat("a", 66)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseTokenValue(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("ParseTokenValue(%q): %v", s, err)
			}
			return
		}
		if !isTokenID(id) || checksum(s[:len(s)-checksumLen]) != s[len(s)-checksumLen:] {
			t.Fatalf("accepted %q as %q", s, id)
		}
	})
}

func testSealer(t *testing.T) *Sealer {
	t.Helper()
	s, err := NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
