package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Token values look like idt:TKN-1234-5678:<secret>. The secret is 43 random
// base62 characters (256 bits) followed by a 6-character base62 CRC32 of
// everything before it, so a mistyped or truncated value is refused before any
// database lookup.
const (
	tokenPrefix    = "idt:"
	secretRandLen  = 43
	checksumLen    = 6
	tokenIDLen     = len("TKN-1234-5678")
	tokenValueLen  = len(tokenPrefix) + tokenIDLen + 1 + secretRandLen + checksumLen
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// isBase62 marks the bytes of the base62 alphabet.
var isBase62 = func() (t [256]bool) {
	for i := 0; i < len(base62Alphabet); i++ {
		t[base62Alphabet[i]] = true
	}
	return t
}()

// ErrMalformedToken means a token value is not of the idt: form or its
// checksum does not match.
var ErrMalformedToken = errors.New("malformed token")

func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+16)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			// 248 = 4*62: rejecting the rest keeps every character equally likely.
			if b < 248 && len(out) < n {
				out = append(out, base62Alphabet[b%62])
			}
		}
	}
	return string(out)
}

func checksum(s string) string {
	v := crc32.ChecksumIEEE([]byte(s))
	out := make([]byte, checksumLen)
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = base62Alphabet[v%62]
		v /= 62
	}
	return string(out)
}

// NewTokenValue returns a fresh value for the token id.
func NewTokenValue(tokenID string) string {
	body := tokenPrefix + tokenID + ":" + randomBase62(secretRandLen)
	return body + checksum(body)
}

func isTokenID(s string) bool {
	if len(s) != tokenIDLen || !strings.HasPrefix(s, "TKN-") || s[8] != '-' {
		return false
	}
	for i, c := range s[4:] {
		if i == 4 {
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ParseTokenValue checks the form and checksum of a token value and returns
// the token id it names. It does no lookup.
func ParseTokenValue(v string) (string, error) {
	if len(v) != tokenValueLen || !strings.HasPrefix(v, tokenPrefix) {
		return "", ErrMalformedToken
	}
	id := v[len(tokenPrefix) : len(tokenPrefix)+tokenIDLen]
	if !isTokenID(id) || v[len(tokenPrefix)+tokenIDLen] != ':' {
		return "", ErrMalformedToken
	}
	secret := v[len(tokenPrefix)+tokenIDLen+1:]
	for i := 0; i < len(secret); i++ {
		if !isBase62[secret[i]] {
			return "", ErrMalformedToken
		}
	}
	split := len(v) - checksumLen
	if checksum(v[:split]) != v[split:] {
		return "", ErrMalformedToken
	}
	return id, nil
}

// HashTokenValue is the SHA-256 under which a value is looked up.
func HashTokenValue(v string) []byte {
	sum := sha256.Sum256([]byte(v))
	return sum[:]
}

// KeySize is the length of the token encryption key (AES-256).
const KeySize = 32

// sealVersion prefixes every sealed value so that a later key rotation can
// tell old and new ciphertexts apart.
const sealVersion = 1

// Sealer encrypts token values at rest with AES-256-GCM. The token id is the
// additional data, so a sealed value cannot be moved to another row.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("token encryption key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts value for tokenID.
func (s *Sealer) Seal(tokenID, value string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), 1+s.aead.NonceSize()+len(value)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, []byte(value), []byte(tokenID))
}

// Open decrypts what Seal produced for tokenID.
func (s *Sealer) Open(tokenID string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return "", errors.New("sealed token value has an unknown format")
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(tokenID))
	if err != nil {
		return "", errors.New("sealed token value does not open with this key")
	}
	return string(plain), nil
}

// ParseKey decodes a base64 (standard or URL alphabet) 32-byte key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("the key must be %d bytes in base64", KeySize)
}

// LoadOrCreateKey reads the key file at path, creating it with a new random
// key and mode 0600 when it does not exist. A key file readable by others is
// refused.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key file: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create key file: %w", err)
		}
		if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("write key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("write key file: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s is readable by others (mode %o); run chmod 600 on it", path, fi.Mode().Perm())
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// secretShaped matches what could be a token's secret, with or without the
// idt:TKN-…: before it: a run of 40 or more base62 characters.
var secretShaped = regexp.MustCompile(`[0-9A-Za-z]{40,}`)

// RedactSecrets replaces everything in s shaped like a token's secret with
// [redacted], for text that is logged: a client may put a token value
// anywhere, the URL path included.
func RedactSecrets(s string) string {
	if len(s) < 40 {
		return s
	}
	return secretShaped.ReplaceAllString(s, "[redacted]")
}
