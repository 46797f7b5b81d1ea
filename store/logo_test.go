package store

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

// encodePNG is img as Go's encoder writes it.
func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gradient is a w × h opaque image whose pixels differ.
func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	return img
}

// pngHeader is the start of a PNG claiming w × h pixels: the signature and
// a valid IHDR chunk (CRC included), and no image data.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func decodeLogo(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the logo is not a PNG: %v", err)
	}
	return img
}

func TestNormalizeLogo(t *testing.T) {
	small := encodePNG(t, gradient(40, 30))
	script := append(append([]byte{}, small...), "<script>alert(1)</script>"...)
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, gradient(1000, 500), nil); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		for _, c := range []struct {
			name string
			in   []byte
			w, h int
		}{
			{"small PNG", small, 40, 30},
			{"PNG followed by script", script, 40, 30},
			{"1000 × 500 PNG", encodePNG(t, gradient(1000, 500)), 256, 128},
			{"1000 × 500 JPEG", jpg.Bytes(), 256, 128},
			{"tall PNG", encodePNG(t, gradient(300, 3000)), 26, 256},
			{"one line", encodePNG(t, gradient(4096, 1)), 256, 1},
		} {
			t.Run(c.name, func(t *testing.T) {
				out, ct, msg := NormalizeLogo(c.in)
				if msg != "" || ct != "image/png" {
					t.Fatalf("refused: %q %q", ct, msg)
				}
				if b := decodeLogo(t, out).Bounds(); b.Dx() != c.w || b.Dy() != c.h {
					t.Errorf("size %d × %d, want %d × %d", b.Dx(), b.Dy(), c.w, c.h)
				}
				if bytes.Contains(out, []byte("<script")) {
					t.Error("the script survived")
				}
				// A second pass (the wizard's upload, then the token)
				// changes nothing.
				if again, _, _ := NormalizeLogo(out); !bytes.Equal(again, out) {
					t.Error("normalising the result again changes it")
				}
			})
		}
		if out, _, _ := NormalizeLogo(script); bytes.Equal(out, script) || !bytes.Equal(out, small) {
			t.Error("the PNG followed by a script is not exactly the PNG re-encoded")
		}
	})

	t.Run("Refused", func(t *testing.T) {
		truncated := encodePNG(t, gradient(64, 64))
		truncated = truncated[:len(truncated)/2]
		for _, c := range []struct{ name, in, want string }{
			{"50000 × 50000", string(pngHeader(50000, 50000)), "The logo is 50000 × 50000 pixels; it must be at most 4096 pixels a side."},
			{"4097 × 1", string(pngHeader(4097, 1)), "The logo is 4097 × 1 pixels; it must be at most 4096 pixels a side."},
			{"1 × 4097", string(pngHeader(1, 4097)), "The logo is 1 × 4097 pixels; it must be at most 4096 pixels a side."},
			{"0 × 0", string(pngHeader(0, 0)), "The logo could not be read as a PNG image: the file is damaged or incomplete."},
			{"garbage after the PNG signature", "\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "The logo could not be read as a PNG image: the file is damaged or incomplete."},
			{"header without pixels", string(pngHeader(16, 16)), "The logo could not be read as a PNG image: the file is damaged or incomplete."},
			{"truncated PNG", string(truncated), "The logo could not be read as a PNG image: the file is damaged or incomplete."},
			{"garbage after the JPEG signature", "\xff\xd8\xff\xe0 not a JPEG at all", "The logo could not be read as a JPEG image: the file is damaged or incomplete."},
			{"GIF", "GIF89a", "Logo must be a PNG or JPEG image."},
			{"HTML", "<html><script>alert(1)</script></html>", "Logo must be a PNG or JPEG image."},
			{"over 5 MB", string(small) + strings.Repeat("\x00", MaxLogoBytes), "Logo must be at most 5 MB."},
		} {
			t.Run(c.name, func(t *testing.T) {
				out, ct, msg := NormalizeLogo([]byte(c.in))
				if msg != c.want || out != nil || ct != "" {
					t.Errorf("= %d bytes, %q, %q; want the message %q", len(out), ct, msg, c.want)
				}
			})
		}
	})

	// The message comes from the header alone: refusing the claimed
	// 50000 × 50000 image (10 GB decoded) allocates next to nothing.
	t.Run("BombNotDecoded", func(t *testing.T) {
		bomb := pngHeader(50000, 50000)
		if n := testing.AllocsPerRun(5, func() { NormalizeLogo(bomb) }); n > 50 {
			t.Errorf("%v allocations to refuse it", n)
		}
	})
}

// TestFitLogoAverages: a pixel of the scaled logo is the average of the
// area it covers, and transparent pixels lend it no colour.
func TestFitLogoAverages(t *testing.T) {
	// 512 × 512 in 2 × 2 blocks: opaque red beside transparent green in
	// every row, black above white in every column.
	src := image.NewNRGBA(image.Rect(0, 0, 512, 512))
	for y := range 512 {
		for x := range 512 {
			c := color.NRGBA{255, 0, 0, 255}
			switch {
			case x < 256 && x%2 == 1:
				c = color.NRGBA{0, 255, 0, 0}
			case x >= 256 && y%2 == 0:
				c = color.NRGBA{0, 0, 0, 255}
			case x >= 256:
				c = color.NRGBA{255, 255, 255, 255}
			}
			src.SetNRGBA(x, y, c)
		}
	}
	got := fitLogo(src, 256)
	if b := got.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Fatalf("size %v", b)
	}
	for _, c := range []struct {
		x, y int
		want color.NRGBA
	}{
		{10, 10, color.NRGBA{255, 0, 0, 128}}, // red at half opacity, no green
		{100, 200, color.NRGBA{255, 0, 0, 128}},
		{130, 10, color.NRGBA{128, 128, 128, 255}}, // black and white: grey
		{250, 250, color.NRGBA{128, 128, 128, 255}},
	} {
		if p := color.NRGBAModel.Convert(got.At(c.x, c.y)).(color.NRGBA); p != c.want {
			t.Errorf("pixel %d,%d = %v, want %v", c.x, c.y, p, c.want)
		}
	}
	// An image that fits is left as it is.
	small := gradient(256, 10)
	if fitLogo(small, 256) != image.Image(small) {
		t.Error("an image that fits was scaled")
	}
}
