package storetest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// Gradient is a w × h opaque image whose pixels differ.
func Gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	return img
}

// PNG is a w × h Gradient as Go's encoder writes it, which is also how
// store.NormalizeLogo writes it: a logo of at most 256 pixels a side comes
// back from the store byte for byte.
func PNG(w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, Gradient(w, h)); err != nil {
		panic(err) // an in-memory image of positive size always encodes
	}
	return b.Bytes()
}

// JPEG is a w × h Gradient as a JPEG.
func JPEG(w, h int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Gradient(w, h), nil); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PNGHeader is the start of a PNG claiming w × h pixels: the signature and
// a valid IHDR chunk, CRC included, and no image data — what a
// decompression bomb shows before its pixels.
func PNGHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk := append([]byte("IHDR"), ihdr...)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)))
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}
