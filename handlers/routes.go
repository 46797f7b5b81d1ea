package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"gatehouse/static"
)

// MaxBodyBytes bounds every request body (echo size syntax); larger ones get 413.
const MaxBodyBytes = "1M"

// Register puts every route and middleware of Gatehouse on e. The whole
// surface of the console is listed here, one line a route.
func (h *Handler) Register(e *echo.Echo) {
	e.HTTPErrorHandler = h.HandleError
	e.Use(middleware.RequestID())
	e.Use(h.logRequests)
	e.Use(middleware.Recover())
	e.Use(h.securityHeaders)
	e.Use(middleware.BodyLimit(MaxBodyBytes))

	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	e.GET("/static/*", echo.WrapHandler(static.Handler()))

	console := e.Group("", h.csrf, h.loadUser)
	console.GET("/", h.home)
	console.GET("/login", h.showLogin)
	console.POST("/login", h.login)
	console.POST("/logout", h.logout)

	settings := console.Group("/settings", h.requireUser)
	settings.GET("", h.home)
	settings.GET("/api-tokens", h.listTokens)
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

// home sends visitors to the token list (or, through it, to the login page).
func (h *Handler) home(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/settings/api-tokens")
}
