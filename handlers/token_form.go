package handlers

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/store"
	"gatehouse/views"
)

const keyCreated = "created"

// tokenFields is what the Add and Edit forms post.
type tokenFields struct {
	Name        string
	Description string
	Modules     []string
	LogoUpload  string
	RemoveLogo  bool
	logo        []byte // a file posted with this request
	logoErr     string
}

// readTokenFields reads the token fields of a form, including an uploaded
// logo, which is checked and re-encoded here (store.NormalizeLogo) with a
// message for the field.
func readTokenFields(c echo.Context) (tokenFields, error) {
	f := tokenFields{
		Name:        c.FormValue("name"),
		Description: strings.ReplaceAll(c.FormValue("description"), "\r\n", "\n"),
		LogoUpload:  c.FormValue("logo_upload"),
		RemoveLogo:  c.FormValue("remove_logo") == "1",
	}
	form, err := c.MultipartForm()
	switch {
	case err == nil:
		f.Modules = form.Value["modules"]
	case errors.Is(err, http.ErrNotMultipart):
		params, perr := c.FormParams()
		if perr != nil {
			return f, formError(perr)
		}
		f.Modules = params["modules"]
	default:
		return f, formError(err)
	}
	if fh, err := c.FormFile("logo"); err == nil && fh.Size > 0 {
		if fh.Size > store.MaxLogoBytes {
			f.logoErr = fmt.Sprintf("The logo is %.1f MB; it must be at most 5 MB.", float64(fh.Size)/(1<<20))
			return f, nil
		}
		file, err := fh.Open()
		if err != nil {
			return f, err
		}
		defer file.Close()
		raw, err := io.ReadAll(io.LimitReader(file, store.MaxLogoBytes+1))
		if err != nil {
			return f, err
		}
		// Decoded and re-encoded once here; the store's check of the
		// result again is cheap.
		var msg string
		if f.logo, _, msg = store.NormalizeLogo(raw); msg != "" {
			f.logoErr = msg
			f.logo = nil
		}
	}
	return f, nil
}

// formError turns a form that cannot be read into a 413 (too large) or a
// 400, never a 500.
func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read. Go back, reload the page and try again.")
}

// formModel builds the form's view model with the account's modules, the
// posted ones checked.
func (h *Handler) formModel(c echo.Context, title string, f tokenFields) (views.TokenForm, error) {
	u, _ := currentUser(c)
	mods := u.AccountModules
	checked := map[string]bool{}
	for _, id := range f.Modules {
		checked[id] = true
	}
	m := views.TokenForm{
		Chrome:      h.chrome(c, title, "api-tokens"),
		Name:        f.Name,
		Description: f.Description,
		LogoUpload:  f.LogoUpload,
		RemoveLogo:  f.RemoveLogo,
		Errors:      map[string]string{},
		Avatar:      views.Avatar{Initials: initials(f.Name), Color: 0},
	}
	for _, mod := range mods {
		m.Modules = append(m.Modules, views.ModuleChoice{ID: mod.ID, Name: mod.Name, Description: mod.Description, Checked: checked[mod.ID]})
	}
	if f.LogoUpload != "" {
		m.LogoURL = "/settings/api-tokens/uploads/" + f.LogoUpload
		m.HasLogo = true
	}
	return m, nil
}

// validateFields checks the fields of a step (0 checks all) the way the store
// will, so that each step can stop with its messages.
func (h *Handler) validateFields(c echo.Context, f tokenFields, step int) map[string]string {
	errs := map[string]string{}
	if step == 0 || step == 1 {
		_, errs = store.ValidateToken(&store.NewToken{Name: f.Name, Description: f.Description})
		if f.logoErr != "" {
			errs["logo"] = f.logoErr
		}
	}
	if step == 0 || step == 2 {
		u, _ := currentUser(c)
		enabled := map[string]bool{}
		for _, m := range u.AccountModules {
			enabled[m.ID] = true
		}
		for _, id := range f.Modules {
			if !enabled[id] {
				errs["modules"] = fmt.Sprintf("Module %s is not enabled for this account.", truncate(id, 20))
			}
		}
	}
	return errs
}

func requireAdmin(c echo.Context, what string) error {
	u, _ := currentUser(c)
	if !canEdit(u) {
		return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("Only administrators can %s API tokens.", what))
	}
	return nil
}

func (h *Handler) newToken(c echo.Context) error {
	if err := requireAdmin(c, "add"); err != nil {
		return err
	}
	m, err := h.formModel(c, "Add API token", tokenFields{})
	if err != nil {
		return err
	}
	m.Step, m.CancelURL = 1, "/settings/api-tokens"
	return h.render(c, http.StatusOK, views.TokenFormView(m))
}

// createToken moves the Add wizard along: every step posts here with what was
// entered so far, and only step 3's Add creates the token.
func (h *Handler) createToken(c echo.Context) error {
	if err := requireAdmin(c, "add"); err != nil {
		return err
	}
	u, _ := currentUser(c)
	ctx := c.Request().Context()
	step, _ := strconv.Atoi(c.FormValue("step"))
	if step < 1 || step > 3 {
		step = 1
	}
	f, err := readTokenFields(c)
	if err != nil {
		return err
	}
	// A logo chosen in step 1 is kept server-side; the steps carry its id.
	if f.LogoUpload != "" {
		if _, _, err := h.store.LogoUpload(ctx, u.ID, f.LogoUpload); err != nil {
			f.LogoUpload = ""
		}
	}
	if f.RemoveLogo {
		f.LogoUpload = ""
	}
	if f.logo != nil {
		id, err := h.store.SaveLogoUpload(ctx, u.ID, f.logo)
		if err != nil {
			return err
		}
		f.LogoUpload = id
	}

	next := step
	status := http.StatusOK
	var errs map[string]string
	switch c.FormValue("go") {
	case "back":
		next = max(1, step-1)
	case "add":
		if step != 3 {
			break
		}
		if errs = h.validateFields(c, f, 0); len(errs) == 0 {
			return h.addToken(c, f)
		}
	default:
		if errs = h.validateFields(c, f, step); len(errs) == 0 {
			next = min(3, step+1)
		}
	}
	if len(errs) > 0 {
		status = http.StatusBadRequest
		// Show the first step holding a faulty field.
		if errs["name"] != "" || errs["description"] != "" || errs["logo"] != "" {
			next = 1
		} else {
			next = 2
		}
	}
	m, err := h.formModel(c, "Add API token", f)
	if err != nil {
		return err
	}
	m.Step, m.CancelURL = next, "/settings/api-tokens"
	if errs != nil {
		m.Errors = errs
	}
	m.HasLogo = f.LogoUpload != ""
	return h.render(c, status, views.TokenFormView(m))
}

func (h *Handler) addToken(c echo.Context, f tokenFields) error {
	u, _ := currentUser(c)
	ctx := c.Request().Context()
	var logo []byte
	if f.LogoUpload != "" {
		var err error
		if _, logo, err = h.store.LogoUpload(ctx, u.ID, f.LogoUpload); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	actor := store.UserActor(u, c.RealIP(), c.Request().UserAgent())
	t, _, err := h.store.CreateToken(ctx, h.sealer, actor, u.AccountID, store.NewToken{
		Name: f.Name, Description: f.Description, ModuleIDs: f.Modules, Logo: logo,
	})
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		m, merr := h.formModel(c, "Add API token", f)
		if merr != nil {
			return merr
		}
		m.Step, m.Errors, m.CancelURL = 1, ve.Fields, "/settings/api-tokens"
		return h.render(c, http.StatusBadRequest, views.TokenFormView(m))
	}
	if err != nil {
		return err
	}
	sess, err := h.session(c)
	if err != nil {
		return err
	}
	sess.Values[keyCreated] = t.ID
	if err := h.sessions.Save(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-tokens/"+t.ID+"/created")
}

// createdPage is step 4 of the wizard. It is shown once, to the user who
// just added the token; later visits go to the token's page.
func (h *Handler) createdPage(c echo.Context) error {
	t, err := h.loadToken(c)
	if err != nil {
		return err
	}
	sess, err := h.session(c)
	if err != nil {
		return err
	}
	if sess.Values[keyCreated] != t.ID {
		return c.Redirect(http.StatusSeeOther, "/settings/api-tokens/"+t.ID)
	}
	delete(sess.Values, keyCreated) // shown once
	if err := h.sessions.Save(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.CreatedView(h.createdModel(c, t)))
}

func (h *Handler) createdModel(c echo.Context, t store.Token) views.CreatedPage {
	return views.CreatedPage{
		Chrome:      h.chrome(c, "Add API token", "api-tokens"),
		ID:          t.ID,
		Name:        t.Name,
		MaskedValue: maskedValue(t.ID),
		RevealURL:   "/settings/api-tokens/" + t.ID + "/reveal",
		DetailsURL:  "/settings/api-tokens/" + t.ID,
	}
}

func maskedValue(id string) string { return "idt:" + id + ":" + strings.Repeat("•", 16) }

func (h *Handler) editToken(c echo.Context) error {
	if err := requireAdmin(c, "edit"); err != nil {
		return err
	}
	t, err := h.loadToken(c)
	if err != nil {
		return err
	}
	f := tokenFields{Name: t.Name, Description: t.Description}
	for _, m := range t.Modules {
		f.Modules = append(f.Modules, m.ID)
	}
	m, err := h.editModel(c, t, f)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.TokenFormView(m))
}

func (h *Handler) editModel(c echo.Context, t store.Token, f tokenFields) (views.TokenForm, error) {
	m, err := h.formModel(c, "Edit "+t.Name, f)
	if err != nil {
		return m, err
	}
	m.Edit, m.ID, m.Version = true, t.ID, t.Version
	m.CancelURL = "/settings/api-tokens/" + t.ID
	m.Avatar = views.Avatar{Initials: initials(t.Name), Color: avatarColor(t.ID)}
	if t.LogoType != "" {
		m.HasLogo = true
		if !f.RemoveLogo {
			m.LogoURL = logoURL(t)
		}
	}
	return m, nil
}

func logoURL(t store.Token) string {
	return "/settings/api-tokens/" + t.ID + "/logo?v=" + strconv.FormatInt(t.Version, 10)
}

// updateToken saves the Edit form. A stale version saves nothing and shows the
// form again, as typed, with who changed the token meanwhile.
func (h *Handler) updateToken(c echo.Context) error {
	if err := requireAdmin(c, "edit"); err != nil {
		return err
	}
	t, err := h.loadToken(c)
	if err != nil {
		return h.goneMeanwhile(c, err)
	}
	u, _ := currentUser(c)
	f, err := readTokenFields(c)
	if err != nil {
		return err
	}
	version, err := strconv.ParseInt(c.FormValue("version"), 10, 64)
	if err != nil || version < 1 {
		return echo.NewHTTPError(http.StatusBadRequest, "The form lacks the token's version. Go back, reload the page and try again.")
	}
	if errs := h.validateFields(c, f, 0); len(errs) > 0 {
		m, err := h.editModel(c, t, f)
		if err != nil {
			return err
		}
		m.Version, m.Errors = version, errs
		if f.logo != nil && errs["logo"] == "" {
			m.Problem = "Nothing was saved. The logo you chose was not kept: choose the file again when you save."
		}
		return h.render(c, http.StatusBadRequest, views.TokenFormView(m))
	}
	actor := store.UserActor(u, c.RealIP(), c.Request().UserAgent())
	_, changed, err := h.store.UpdateToken(c.Request().Context(), actor, u.AccountID, t.ID, version, store.TokenUpdate{
		Name: f.Name, Description: f.Description, ModuleIDs: f.Modules, Logo: f.logo, RemoveLogo: f.RemoveLogo,
	})
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		m, merr := h.editModel(c, t, f)
		if merr != nil {
			return merr
		}
		m.Version, m.Errors = version, ve.Fields
		return h.render(c, http.StatusBadRequest, views.TokenFormView(m))
	case errors.Is(err, store.ErrConflict):
		cur, lerr := h.store.Token(c.Request().Context(), u.AccountID, t.ID)
		if lerr != nil {
			return lerr
		}
		m, merr := h.editModel(c, cur, f)
		if merr != nil {
			return merr
		}
		m.Problem = h.staleMessage(c, cur) + " Your changes were not saved. They are still in the form: check them against the token as it is now, and save again to apply them."
		if f.logo != nil {
			m.Problem += " Choose the logo file again."
		}
		return h.render(c, http.StatusConflict, views.TokenFormView(m))
	case err != nil:
		return err
	}
	msg := fmt.Sprintf("API token %s was updated.", t.ID)
	if !changed {
		msg = "Nothing was changed, so nothing was saved."
	}
	if err := h.setFlash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-tokens/"+t.ID)
}

// tokenLogo serves a token's logo. Logos are decoded and re-encoded on the
// way in and served with nosniff, so they are only ever images.
func (h *Handler) tokenLogo(c echo.Context) error {
	if !tokenIDPattern.MatchString(c.Param("id")) {
		return store.ErrNotFound
	}
	u, _ := currentUser(c)
	ct, data, err := h.store.TokenLogo(c.Request().Context(), u.AccountID, c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, max-age=86400")
	return c.Blob(http.StatusOK, ct, data)
}

// logoUpload serves a logo uploaded in the wizard to the user who uploaded it.
func (h *Handler) logoUpload(c echo.Context) error {
	u, _ := currentUser(c)
	ct, data, err := h.store.LogoUpload(c.Request().Context(), u.ID, c.Param("uid"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, max-age=3600")
	return c.Blob(http.StatusOK, ct, data)
}
