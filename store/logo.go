package store

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"net/http"
)

// Bounds of a logo's image. A logo is decoded only when its header says it
// has at most MaxLogoSide pixels a side, and is kept at most LogoSide
// pixels a side.
const (
	MaxLogoSide = 4096
	LogoSide    = 256
)

// logoDecodes bounds how many logos are decoded at once, and with them the
// memory uploads can take: a 4096 × 4096 image decodes to 64 MB (128 MB for
// a 16-bit PNG; a progressive JPEG keeps its coefficients too, up to about
// 320 MB for four components).
var logoDecodes = make(chan struct{}, 2)

// NormalizeLogo checks a logo and returns it re-encoded — a PNG of at most
// LogoSide pixels a side, scaled down keeping its aspect ratio — with its
// content type, or a message saying why the logo is refused. Every byte of
// the result comes from the PNG encoder, so nothing around or after the
// image a client sent (HTML or script appended to a PNG, metadata) is
// kept. Its dimensions are read from the header before anything is decoded,
// so a small file claiming a huge image is refused without allocating it.
// A JPEG becomes a PNG too: one lossless format means normalising a logo a
// second time (a wizard upload when the token is added) changes nothing.
func NormalizeLogo(b []byte) (logo []byte, contentType, msg string) {
	if len(b) > MaxLogoBytes {
		return nil, "", "Logo must be at most 5 MB."
	}
	var format string
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		format, decodeConfig, decode = "PNG", png.DecodeConfig, png.Decode
	case http.DetectContentType(b) == "image/jpeg":
		format, decodeConfig, decode = "JPEG", jpeg.DecodeConfig, jpeg.Decode
	default:
		return nil, "", "Logo must be a PNG or JPEG image."
	}
	damaged := "The logo could not be read as a " + format + " image: the file is damaged or incomplete."
	cfg, err := decodeConfig(bytes.NewReader(b))
	switch {
	case err != nil:
		return nil, "", damaged
	case cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide:
		return nil, "", fmt.Sprintf("The logo is %d × %d pixels; it must be at most %d pixels a side.", cfg.Width, cfg.Height, MaxLogoSide)
	case cfg.Width < 1 || cfg.Height < 1:
		return nil, "", "The logo has no pixels."
	}
	img, err := decodeScaled(decode, b)
	if err != nil {
		return nil, "", damaged
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return nil, "", damaged
	}
	return out.Bytes(), "image/png", ""
}

// fitLogo scales img down to fit in side × side pixels, keeping its aspect
// ratio; an image that fits is returned as it is. Each pixel is the average
// of the area of img it covers, taken in premultiplied colour so that
// transparent pixels lend it no colour.
func fitLogo(img image.Image, side int) image.Image {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if sw <= side && sh <= side {
		return img
	}
	dw, dh := side, side
	if sw > sh {
		dh = max(1, (sh*side+sw/2)/sw)
	} else {
		dw = max(1, (sw*side+sh/2)/sh)
	}
	xs, ys := areaWeights(sw, dw), areaWeights(sh, dh)

	// Rows first: each row of img, as premultiplied RGBA, is reduced to dw
	// pixels, so only one row of the source is ever copied.
	rows := make([]float32, sh*dw*4)
	row := image.NewRGBA(image.Rect(0, 0, sw, 1))
	for y := range sh {
		draw.Draw(row, row.Rect, img, image.Pt(b.Min.X, b.Min.Y+y), draw.Src)
		out := rows[y*dw*4 : (y+1)*dw*4]
		for dx, ws := range xs {
			var c [4]float32
			for _, w := range ws {
				p := row.Pix[w.i*4 : w.i*4+4]
				for k := range c {
					c[k] += w.w * float32(p[k])
				}
			}
			copy(out[dx*4:dx*4+4], c[:])
		}
	}
	// Then columns, un-premultiplying the result.
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	for dy, ws := range ys {
		for dx := range dw {
			var c [4]float32
			for _, w := range ws {
				p := rows[(w.i*dw+dx)*4 : (w.i*dw+dx)*4+4]
				for k := range c {
					c[k] += w.w * p[k]
				}
			}
			px := dst.Pix[dst.PixOffset(dx, dy):][:4]
			px[3] = toByte(c[3])
			if c[3] > 0 {
				for k := range 3 {
					px[k] = toByte(c[k] * 255 / c[3])
				}
			}
		}
	}
	return dst
}

// areaWeight is the share of source pixel i in a pixel of a scaled line.
type areaWeight struct {
	i int
	w float32
}

// areaWeights returns, for each of the n pixels a line of src pixels is
// reduced to, the source pixels it covers and the share of each (the
// shares of a pixel sum to 1).
func areaWeights(src, n int) [][]areaWeight {
	scale := float64(src) / float64(n)
	ws := make([][]areaWeight, n)
	for d := range ws {
		lo, hi := float64(d)*scale, float64(d+1)*scale
		for i := int(lo); i < src && float64(i) < hi; i++ {
			if cover := math.Min(hi, float64(i+1)) - math.Max(lo, float64(i)); cover > 0 {
				ws[d] = append(ws[d], areaWeight{i, float32(cover / scale)})
			}
		}
	}
	return ws
}

func toByte(v float32) uint8 {
	return uint8(min(255, max(0, v+0.5)))
}

// decodeScaled decodes and scales a logo in one of the logoDecodes slots,
// given back however the decoder ends (a panic included).
func decodeScaled(decode func(io.Reader) (image.Image, error), b []byte) (image.Image, error) {
	logoDecodes <- struct{}{}
	defer func() { <-logoDecodes }()
	img, err := decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return fitLogo(img, LogoSide), nil
}
