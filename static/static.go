// Package static holds the console's CSS, JavaScript and icons, embedded in
// the binary and served under content-hashed URLs so browsers may cache them
// for a year.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed *.css *.js
var files embed.FS

// hashes maps each file name to the first 10 hex digits of its SHA-256.
var hashes = func() map[string]string {
	m := map[string]string{}
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		b, _ := files.ReadFile(e.Name())
		sum := sha256.Sum256(b)
		m[e.Name()] = hex.EncodeToString(sum[:])[:10]
	}
	return m
}()

// URL returns the cache-busting URL of an embedded file, such as
// /static/3f2a9c01be/app.css.
func URL(name string) string {
	return "/static/" + hashes[name] + "/" + name
}

// Handler serves /static/{hash}/{name}. A request with the current hash is
// cacheable for a year; an old hash still gets the file, briefly cached, so a
// page rendered just before a deploy keeps its styles.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/static/")
		hash, name, ok := strings.Cut(rest, "/")
		if !ok || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		want, known := hashes[name]
		if !known {
			http.NotFound(w, r)
			return
		}
		b, err := files.ReadFile(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if hash == want {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=60")
		}
		w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
		w.Header().Set("ETag", `"`+want+`"`)
		if r.Header.Get("If-None-Match") == `"`+want+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(b)
	})
}
