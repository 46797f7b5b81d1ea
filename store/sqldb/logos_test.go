package sqldb_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"testing"

	"gatehouse/store"
	"gatehouse/store/storetest"
)

// TestLogosReencoded: every way a logo enters the store (a token added, a
// token updated, an upload of the Add wizard) keeps the image re-encoded,
// never the bytes sent, and refuses a file claiming 50000 × 50000 pixels
// without storing anything.
func TestLogosReencoded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	hostile := append(storetest.PNG(40, 30), "<script>alert(1)</script>"...)
	kept := func(what string, ct string, data []byte, sent []byte, want image.Point) {
		t.Helper()
		if ct != "image/png" || bytes.Equal(data, sent) || bytes.Contains(data, []byte("<script")) {
			t.Errorf("%s: %q, %d bytes, the upload kept as sent", what, ct, len(data))
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil || img.Bounds().Size() != want {
			t.Errorf("%s: %v, want a %v PNG (%v)", what, img, want, err)
		}
	}

	tok, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Hostile", Logo: hostile})
	if err != nil {
		t.Fatal(err)
	}
	ct, data, err := f.s.TokenLogo(ctx, f.acc.ID, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	kept("CreateToken", ct, data, hostile, image.Pt(40, 30))

	wide := storetest.JPEG(1000, 500)
	if tok, _, err = f.s.UpdateToken(ctx, f.actor, f.acc.ID, tok.ID, tok.Version, store.TokenUpdate{Name: "Hostile", Logo: wide}); err != nil {
		t.Fatal(err)
	}
	ct, logo, _ := f.s.TokenLogo(ctx, f.acc.ID, tok.ID)
	kept("UpdateToken", ct, logo, wide, image.Pt(256, 128))
	if tok.LogoType != "image/png" {
		t.Errorf("logo type %q, want image/png", tok.LogoType)
	}

	id, err := f.s.SaveLogoUpload(ctx, f.admin.ID, hostile)
	if err != nil {
		t.Fatal(err)
	}
	ct, data, _ = f.s.LogoUpload(ctx, f.admin.ID, id)
	kept("SaveLogoUpload", ct, data, hostile, image.Pt(40, 30))

	// A decompression bomb's header: refused before anything is decoded.
	bomb := storetest.PNGHeader(50000, 50000)
	const msg = "The logo is 50000 × 50000 pixels; it must be at most 4096 pixels a side."
	refused := func(what string, err error) {
		t.Helper()
		var ve *store.ValidationError
		if !errors.As(err, &ve) || ve.Fields["logo"] != msg {
			t.Errorf("%s of the bomb: %v, want the logo message %q", what, err, msg)
		}
	}
	_, _, err = f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Bomb", Logo: bomb})
	refused("CreateToken", err)
	_, _, err = f.s.UpdateToken(ctx, f.actor, f.acc.ID, tok.ID, tok.Version, store.TokenUpdate{Name: "Hostile", Logo: bomb})
	refused("UpdateToken", err)
	_, err = f.s.SaveLogoUpload(ctx, f.admin.ID, bomb)
	refused("SaveLogoUpload", err)
	for table, want := range map[string]int{"api_tokens": 1, "api_token_logos": 1, "logo_uploads": 1} {
		var n int
		f.s.DB().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n)
		if n != want {
			t.Errorf("%s: %d rows after the bomb, want %d", table, n, want)
		}
	}
	if cur, _ := f.s.Token(ctx, f.acc.ID, tok.ID); cur.Version != tok.Version {
		t.Error("the bomb changed the token")
	}
	if _, after, _ := f.s.TokenLogo(ctx, f.acc.ID, tok.ID); !bytes.Equal(after, logo) {
		t.Error("the bomb changed the logo")
	}
}
