package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"gatehouse/static"
)

// Body limits: every request body is bounded, larger ones get 413.
const (
	MaxBodyBytes       = 1 << 20
	MaxUploadBodyBytes = 8 << 20 // the forms that carry a logo
)

// Register puts every route and middleware of Gatehouse on e. The whole
// surface of the console is listed here, one line a route.
func (h *Handler) Register(e *echo.Echo) {
	e.HTTPErrorHandler = h.HandleError
	e.Pre(headAsGet)
	e.Use(middleware.RequestID())
	e.Use(h.logRequests)
	e.Use(middleware.Recover())
	e.Use(h.securityHeaders)
	e.Use(h.bodyLimit)

	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	e.GET("/static/*", echo.WrapHandler(static.Handler()))

	e.GET("/public/v1/openapi.json", h.openAPI) // no token needed: clients read it first

	e.GET("/public/v1/auth/verify", h.verify) // authorizes by itself, for speed
	api := e.Group("/public/v1", h.authenticate)
	api.GET("/audit/records", h.apiAuditRecords, requireModule(AccessManagement, "Access management"))
	api.GET("/audit/records/:id", h.apiAuditRecord, requireModule(AccessManagement, "Access management"))
	tokens := api.Group("/accounts/api-tokens", requireModule(AccessManagement, "Access management"))
	tokens.GET("", h.apiListTokens)
	tokens.POST("", h.apiCreateToken, onlyParams())
	tokens.GET("/:id", h.apiGetToken) // takes select
	tokens.GET("/:id/icon", h.apiTokenIcon, onlyParams())
	tokens.PUT("/:id", h.apiUpdateToken, onlyParams())
	tokens.DELETE("/:id", h.apiDeleteToken, onlyParams())
	tokens.POST("/:id/enable", h.apiTransition, onlyParams())
	tokens.POST("/:id/disable", h.apiTransition, onlyParams())

	console := e.Group("", h.csrf, h.loadUser)
	console.GET("/", h.home)
	console.GET("/login", h.showLogin)
	console.POST("/login", h.login)
	console.POST("/logout", h.logout)

	settings := console.Group("/settings", h.requireUser)
	settings.GET("", h.home)
	settings.GET("/api-tokens", h.listTokens)
	settings.GET("/api-tokens/new", h.newToken)
	settings.POST("/api-tokens/new", h.createToken)
	settings.GET("/api-tokens/uploads/:uid", h.logoUpload)
	settings.GET("/api-tokens/:id/created", h.createdPage)
	settings.GET("/api-tokens/:id/edit", h.editToken)
	settings.POST("/api-tokens/:id/edit", h.updateToken)
	settings.GET("/api-tokens/:id/logo", h.tokenLogo)
	settings.GET("/api-tokens/:id", h.showToken)
	settings.GET("/api-tokens/:id/:tab", h.showToken)
	settings.POST("/api-tokens/:id/reveal", h.revealToken)
	settings.GET("/api-tokens/:id/disable", h.confirmAction)
	settings.POST("/api-tokens/:id/disable", h.applyAction)
	settings.GET("/api-tokens/:id/enable", h.confirmAction)
	settings.POST("/api-tokens/:id/enable", h.applyAction)
	settings.GET("/api-tokens/:id/delete", h.confirmAction)
	settings.POST("/api-tokens/:id/delete", h.applyAction)
	settings.GET("/api-tokens/bulk", h.confirmBulk)
	settings.POST("/api-tokens/bulk", h.applyBulk)
	settings.GET("/audit-trail", h.auditTrail)
	settings.GET("/audit-trail/export.csv", h.exportAudit)
	settings.GET("/audit-trail/export.json", h.exportAudit)
	settings.GET("/audit-trail/:rid", h.showAuditRecord)
}

// headAsGet answers HEAD like GET, headers and all, without the body.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodHead {
			c.Request().Method = http.MethodGet
			c.Response().Writer = headWriter{c.Response().Writer}
		}
		return next(c)
	}
}

// headWriter drops a response's body.
type headWriter struct{ http.ResponseWriter }

func (w headWriter) Write(p []byte) (int, error) { return len(p), nil }

// Flush lets streamed responses flush their (empty) body.
func (w headWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// bodyLimit bounds the request body before anything reads it: the CSRF
// check, which parses forms, runs after it.
func (h *Handler) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := int64(MaxBodyBytes)
		if isUploadForm(c) {
			limit = MaxUploadBodyBytes
		}
		r := c.Request()
		if r.ContentLength > limit {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("The request is too large (the limit is %d MB).", limit>>20))
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		return next(c)
	}
}

// isUploadForm picks the requests that may carry a logo; they have a larger
// body limit: the console's Add and Edit forms, and the API's POST and PUT
// of a token, whose icon is a data: URL a third larger than the logo.
func isUploadForm(c echo.Context) bool {
	p, m := c.Request().URL.Path, c.Request().Method
	switch {
	case m == http.MethodPost && strings.HasPrefix(p, "/settings/api-tokens/"):
		return p == "/settings/api-tokens/new" || strings.HasSuffix(p, "/edit")
	case m == http.MethodPost:
		return p == "/public/v1/accounts/api-tokens"
	case m == http.MethodPut:
		return strings.HasPrefix(p, "/public/v1/accounts/api-tokens/")
	}
	return false
}

// home sends visitors to the token list (or, through it, to the login page).
func (h *Handler) home(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/settings/api-tokens")
}
