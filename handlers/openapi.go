package handlers

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the OpenAPI 3.1 description of the public API,
// written by hand. The API tests validate every response they receive
// against it (handlers/openapitest), and make check validates the document
// itself, so it cannot drift from what the handlers answer.
//
//go:embed openapi.json
var openAPIDocument []byte

var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// openAPI serves the OpenAPI document. It needs no token: a client reads it
// before it has one. It changes only with the binary, so caches may keep
// it for an hour and revalidate with its ETag.
func (h *Handler) openAPI(c echo.Context) error {
	hd := c.Response().Header()
	hd.Set("ETag", openAPIETag)
	hd.Set("Cache-Control", "public, max-age=3600")
	if c.Request().Header.Get("If-None-Match") == openAPIETag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
