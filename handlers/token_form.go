package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
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
	hasName     bool // the form had the general fields
	hasModules  bool // the form had at least one module
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
	var values url.Values
	form, err := c.MultipartForm()
	switch {
	case err == nil:
		values = form.Value
	case errors.Is(err, http.ErrNotMultipart):
		if values, err = c.FormParams(); err != nil {
			return f, formError(err)
		}
	default:
		return f, formError(err)
	}
	f.Modules = values["modules"]
	_, f.hasName = values["name"]
	f.hasModules = len(f.Modules) > 0
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
		return roleRefused(u, what+" API tokens")
	}
	return nil
}

// The Add wizard keeps what was entered in a draft on the server
// (store.TokenDraft), named in the URL of each step:
// GET /settings/api-tokens/new?draft=…&step=N. Every step posts to
// /settings/api-tokens/new and, when what it sent is in order, is answered
// with a redirect to the next step's GET (post-redirect-get), so that the
// browser's Back, Reload and bookmarks show a step again and never send a
// form twice. A step whose fields are wrong is answered at once with a 400
// and the messages (nothing is added); the draft keeps what was typed and
// the messages, so the step's URL, which app.js puts in the address bar,
// shows them again.

// draftIDPattern is the form of the draft ids the wizard makes up.
var draftIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func newDraftID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// wizardURL is the address of a step of a draft.
func wizardURL(draft string, step int) string {
	return "/settings/api-tokens/new?" + url.Values{"draft": {draft}, "step": {strconv.Itoa(step)}}.Encode()
}

// fieldStep is the step of the wizard that shows a field.
func fieldStep(field string) int {
	if field == "modules" {
		return 2
	}
	return 1
}

// firstStep is the first step holding one of the fields of errs.
func firstStep(errs map[string]string) int {
	step := 2
	for f := range errs {
		step = min(step, fieldStep(f))
	}
	return step
}

func wizardStep(s string) int {
	n, _ := strconv.Atoi(s)
	if n < 1 || n > 3 {
		return 1
	}
	return n
}

// newToken shows a step of the Add wizard. Without a draft it makes up the
// id of a new one and goes to its first step; nothing is stored until that
// step is sent.
func (h *Handler) newToken(c echo.Context) error {
	if err := requireAdmin(c, "add"); err != nil {
		return err
	}
	id := c.QueryParam("draft")
	if id == "" {
		return c.Redirect(http.StatusSeeOther, wizardURL(newDraftID(), 1))
	}
	u, _ := currentUser(c)
	step := wizardStep(c.QueryParam("step"))
	d, err := h.store.TokenDraft(c.Request().Context(), u.ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound) && step == 1 && draftIDPattern.MatchString(id):
		d = store.TokenDraft{ID: id, UserID: u.ID, Reached: 1} // not started yet
	case errors.Is(err, store.ErrNotFound):
		return h.draftGone(c)
	case err != nil:
		return err
	}
	if d.TokenID != "" {
		return h.draftAdded(c, d)
	}
	// Not past the furthest step reached, nor past a step whose fields
	// are wrong.
	limit := d.Reached
	if len(d.Errors) > 0 {
		limit = min(limit, firstStep(d.Errors))
	}
	if step > limit {
		return c.Redirect(http.StatusSeeOther, wizardURL(d.ID, limit))
	}
	m, err := h.wizardModel(c, d, step)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.TokenFormView(m))
}

// draftGone answers for a draft that is not (or no longer) the user's.
func (h *Handler) draftGone(c echo.Context) error {
	if err := h.setWarning(c, "That Add API token form is no longer available: what is entered in it is kept for a day, for the user who started it. Start again here."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-tokens/new")
}

// draftAdded answers for a draft that was added already (Back from the
// summary, a resubmitted Add): the token it was added as.
func (h *Handler) draftAdded(c echo.Context, d store.TokenDraft) error {
	u, _ := currentUser(c)
	_, err := h.store.Token(c.Request().Context(), u.AccountID, d.TokenID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := h.setNotice(c, fmt.Sprintf("This form was already added as API token %s, which has since been deleted.", d.TokenID)); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/settings/api-tokens")
	case err != nil:
		return err
	}
	if err := h.setNotice(c, fmt.Sprintf("This form was already added as API token %s; nothing was added again.", d.TokenID)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-tokens/"+d.TokenID)
}

// wizardModel is the page of a step of a draft, with the messages of the
// step's fields.
func (h *Handler) wizardModel(c echo.Context, d store.TokenDraft, step int) (views.TokenForm, error) {
	m, err := h.formModel(c, "Add API token", tokenFields{Name: d.Name, Description: d.Description, Modules: d.ModuleIDs, LogoUpload: d.LogoUpload})
	if err != nil {
		return m, err
	}
	m.Step, m.Draft, m.CancelURL = step, d.ID, "/settings/api-tokens"
	for f, msg := range d.Errors {
		if fieldStep(f) == step {
			m.Errors[f] = msg
		}
	}
	return m, nil
}

// createToken moves the Add wizard along: every step posts here, with its
// own fields and the draft, and only step 3's Add adds the token. A form
// without a draft (a client sending every field at once) starts one.
func (h *Handler) createToken(c echo.Context) error {
	if err := requireAdmin(c, "add"); err != nil {
		return err
	}
	u, _ := currentUser(c)
	ctx := c.Request().Context()
	step := wizardStep(c.FormValue("step"))
	f, err := readTokenFields(c)
	if err != nil {
		return err
	}
	id, fresh := c.FormValue("draft"), false
	var d store.TokenDraft
	switch {
	case id == "":
		d, fresh = store.TokenDraft{ID: newDraftID(), UserID: u.ID, Reached: 1}, true
	case !draftIDPattern.MatchString(id):
		return h.draftGone(c)
	default:
		d, err = h.store.TokenDraft(ctx, u.ID, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Made up by newToken and not stored yet (or forgotten, or
			// someone else's: saving it will tell).
			d, fresh = store.TokenDraft{ID: id, UserID: u.ID, Reached: 1}, true
		case err != nil:
			return err
		}
		if d.TokenID != "" {
			return h.draftAdded(c, d)
		}
	}

	// What the step sent goes into the draft: step 1 the general fields and
	// the logo, step 2 the modules; a form without a draft, all it has.
	if step == 1 || (fresh && f.hasName) {
		d.Name, d.Description = f.Name, f.Description
		if f.LogoUpload != "" {
			// A logo chosen earlier is kept server-side; a form may name it.
			if _, _, err := h.store.LogoUpload(ctx, u.ID, f.LogoUpload); err == nil {
				d.LogoUpload = f.LogoUpload
			}
		}
		if f.RemoveLogo {
			d.LogoUpload = ""
		}
		if f.logo != nil {
			if d.LogoUpload, err = h.store.SaveLogoUpload(ctx, u.ID, f.logo); err != nil {
				return err
			}
		}
	}
	if step == 2 || (fresh && f.hasModules) {
		d.ModuleIDs = f.Modules
	}
	fields := tokenFields{Name: d.Name, Description: d.Description, Modules: d.ModuleIDs, logoErr: f.logoErr}

	next := step
	var errs map[string]string
	switch c.FormValue("go") {
	case "back":
		next = max(1, step-1)
	case "add":
		if step != 3 {
			break
		}
		if errs = h.validateFields(c, fields, 0); len(errs) == 0 {
			return h.addToken(c, d, fresh)
		}
	default:
		if errs = h.validateFields(c, fields, step); len(errs) == 0 {
			next = min(3, step+1)
		}
	}
	d.ModuleIDs = h.enabledModules(c, d.ModuleIDs)
	if len(errs) > 0 {
		return h.wizardErrors(c, d, errs)
	}
	d.Errors = nil
	d.Reached = max(d.Reached, next)
	if err := h.store.SaveTokenDraft(ctx, d); errors.Is(err, store.ErrNotFound) {
		return h.draftGone(c)
	} else if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, wizardURL(d.ID, next))
}

// wizardErrors answers a step whose fields are wrong: the first step with a
// faulty field, its messages beside the fields and what was typed, at once
// (400). The draft keeps it all, so the step's URL shows it again.
func (h *Handler) wizardErrors(c echo.Context, d store.TokenDraft, errs map[string]string) error {
	step := firstStep(errs)
	d.Errors, d.Reached = errs, max(d.Reached, step)
	if err := h.store.SaveTokenDraft(c.Request().Context(), d); errors.Is(err, store.ErrNotFound) {
		return h.draftGone(c)
	} else if err != nil {
		return err
	}
	m, err := h.wizardModel(c, d, step)
	if err != nil {
		return err
	}
	m.Location = wizardURL(d.ID, step)
	return h.render(c, http.StatusBadRequest, views.TokenFormView(m))
}

// enabledModules keeps, once each, the modules enabled for the user's
// account, so that a draft holds nothing else.
func (h *Handler) enabledModules(c echo.Context, ids []string) []string {
	u, _ := currentUser(c)
	var out []string
	for _, m := range u.AccountModules {
		if slices.Contains(ids, m.ID) {
			out = append(out, m.ID)
		}
	}
	return out
}

// addToken adds the token of a draft and goes to the summary. The draft is
// marked added in the same transaction (unless it was never stored): a
// second Add of it leads to the token added the first time.
func (h *Handler) addToken(c echo.Context, d store.TokenDraft, fresh bool) error {
	u, _ := currentUser(c)
	ctx := c.Request().Context()
	nt := store.NewToken{Name: d.Name, Description: d.Description, ModuleIDs: d.ModuleIDs}
	if !fresh {
		nt.DraftID = d.ID
	}
	if d.LogoUpload != "" {
		_, logo, err := h.store.LogoUpload(ctx, u.ID, d.LogoUpload)
		if errors.Is(err, store.ErrNotFound) {
			d.LogoUpload = ""
			return h.wizardErrors(c, d, map[string]string{"logo": "The logo chosen earlier is no longer kept. Choose the file again, or go on without a logo."})
		}
		if err != nil {
			return err
		}
		nt.Logo = logo
	}
	actor := store.UserActor(u, c.RealIP(), c.Request().UserAgent())
	t, _, err := h.store.CreateToken(ctx, h.sealer, actor, u.AccountID, nt)
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		return h.wizardErrors(c, d, ve.Fields)
	case errors.Is(err, store.ErrConflict):
		// Added already, by a request sent just before this one.
		if cur, lerr := h.store.TokenDraft(ctx, u.ID, d.ID); lerr == nil && cur.TokenID != "" {
			return h.draftAdded(c, cur)
		}
		return h.draftGone(c)
	case err != nil:
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

// createdPage is step 4 of the wizard, shown to the session that added the
// token (Reload shows it again); anyone else goes to the token's page.
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
	m := h.createdModel(c, t)
	if m.Value, err = h.grantedValue(c, t.ID); err != nil {
		return err
	}
	if c.QueryParam("shown") != "" && m.Value == "" {
		m.Notice = shownOnce
	}
	return h.render(c, http.StatusOK, views.CreatedView(m))
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
	m, err := h.editModel(c, t, f, safeBack(c.QueryParam("return")))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.TokenFormView(m))
}

// editModel is the Edit form of t holding f. returnTo, when set, is where
// Save and Cancel lead: the list as the user left it, or the token's page
// opened from it.
func (h *Handler) editModel(c echo.Context, t store.Token, f tokenFields, returnTo string) (views.TokenForm, error) {
	m, err := h.formModel(c, "Edit "+t.Name, f)
	if err != nil {
		return m, err
	}
	m.Edit, m.ID, m.Version = true, t.ID, t.Version
	m.ReturnTo, m.CancelURL = returnTo, returnTo
	if m.CancelURL == "" {
		m.CancelURL = "/settings/api-tokens/" + t.ID
	}
	m.Avatar = views.Avatar{Initials: initials(t.Name), Color: avatarColor(t.ID)}
	switch {
	case f.LogoUpload != "":
		m.HasLogo = true // a file chosen before a conflict, kept server-side
	case t.LogoType != "":
		m.HasLogo = true
		m.LogoURL = ""
		if !f.RemoveLogo {
			m.LogoURL = logoURL(t)
		}
	}
	return m, nil
}

func logoURL(t store.Token) string {
	return "/settings/api-tokens/" + t.ID + "/logo?v=" + strconv.FormatInt(t.Version, 10)
}

// updateToken saves the Edit form. A stale version saves nothing and shows
// the form again, as typed, beside the token as it is now (theirs), field
// by field; the form then carries the current version, so that the next
// Save, made having seen theirs, applies.
func (h *Handler) updateToken(c echo.Context) error {
	if err := requireAdmin(c, "edit"); err != nil {
		return err
	}
	t, err := h.loadToken(c)
	if err != nil {
		return h.goneMeanwhile(c, err)
	}
	u, _ := currentUser(c)
	ctx := c.Request().Context()
	f, err := readTokenFields(c)
	if err != nil {
		return err
	}
	version, err := strconv.ParseInt(c.FormValue("version"), 10, 64)
	if err != nil || version < 1 {
		return echo.NewHTTPError(http.StatusBadRequest, "The form lacks the token's version. Go back, reload the page and try again.")
	}
	returnTo := safeBack(c.FormValue("return"))
	// A logo chosen before a conflict or an error is kept server-side; the
	// form names it.
	if f.logo == nil && f.LogoUpload != "" && !f.RemoveLogo {
		if _, f.logo, err = h.store.LogoUpload(ctx, u.ID, f.LogoUpload); err != nil {
			f.LogoUpload, f.logo = "", nil
		}
	}
	// keepLogo keeps a logo chosen in this form across the answer that
	// does not save it, and names it in the form.
	keepLogo := func(m *views.TokenForm) error {
		if f.logo == nil || f.RemoveLogo {
			return nil
		}
		if f.LogoUpload == "" {
			id, err := h.store.SaveLogoUpload(ctx, u.ID, f.logo)
			if err != nil {
				return err
			}
			f.LogoUpload = id
		}
		m.LogoUpload, m.LogoURL, m.HasLogo = f.LogoUpload, "/settings/api-tokens/uploads/"+f.LogoUpload, true
		return nil
	}
	if errs := h.validateFields(c, f, 0); len(errs) > 0 {
		m, err := h.editModel(c, t, f, returnTo)
		if err != nil {
			return err
		}
		m.Version, m.Errors = version, errs
		if err := keepLogo(&m); err != nil {
			return err
		}
		return h.render(c, http.StatusBadRequest, views.TokenFormView(m))
	}
	actor := store.UserActor(u, c.RealIP(), c.Request().UserAgent())
	_, changed, err := h.store.UpdateToken(ctx, actor, u.AccountID, t.ID, version, store.TokenUpdate{
		Name: f.Name, Description: f.Description, ModuleIDs: f.Modules, Logo: f.logo, RemoveLogo: f.RemoveLogo,
	})
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		m, merr := h.editModel(c, t, f, returnTo)
		if merr != nil {
			return merr
		}
		m.Version, m.Errors = version, ve.Fields
		if err := keepLogo(&m); err != nil {
			return err
		}
		return h.render(c, http.StatusBadRequest, views.TokenFormView(m))
	case errors.Is(err, store.ErrConflict):
		cur, lerr := h.store.Token(ctx, u.AccountID, t.ID)
		if lerr != nil {
			return h.goneMeanwhile(c, lerr)
		}
		m, merr := h.editModel(c, cur, f, returnTo)
		if merr != nil {
			return merr
		}
		if err := keepLogo(&m); err != nil {
			return err
		}
		m.Conflict = h.conflictFields(c, cur, f)
		m.Problem = h.staleMessage(c, cur) + " Your changes were not saved; they are still in the form."
		if len(m.Conflict) > 0 {
			m.Problem += " Compare them with the token as it is now, below, and save again to apply yours."
			if rec, lerr := h.store.LastChange(ctx, u.AccountID, cur.ID); lerr == nil {
				m.ConflictBy = rec.Actor.Name + ", " + views.TimeMark(rec.OccurredAt)
			}
		} else {
			m.Problem += " They match the token as it is now: save again to confirm them."
		}
		return h.render(c, http.StatusConflict, views.TokenFormView(m))
	case err != nil:
		return err
	}
	if changed {
		err = h.setFlash(c, fmt.Sprintf("API token %s was updated.", t.ID))
	} else {
		err = h.setNotice(c, "Nothing was changed, so nothing was saved.")
	}
	if err != nil {
		return err
	}
	next := returnTo
	if next == "" {
		next = "/settings/api-tokens/" + t.ID
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// conflictFields compares, field by field, the token as it is now (theirs)
// with the Edit form as typed (yours), and lists the fields that differ.
func (h *Handler) conflictFields(c echo.Context, cur store.Token, f tokenFields) []views.ConflictField {
	u, _ := currentUser(c)
	var out []views.ConflictField
	if name := strings.TrimSpace(f.Name); name != cur.Name {
		out = append(out, views.ConflictField{Field: "name", Label: "Name", Theirs: cur.Name, Yours: name})
	}
	if f.Description != cur.Description {
		out = append(out, views.ConflictField{Field: "description", Label: "Description", Theirs: cur.Description, Yours: f.Description})
	}
	names := map[string]string{}
	for _, m := range u.AccountModules {
		names[m.ID] = m.Name + " " + m.ID
	}
	var theirs, yours []string
	for _, m := range cur.Modules {
		theirs = append(theirs, m.Name+" "+m.ID)
	}
	for _, m := range u.AccountModules { // in the catalogue's order, once each
		if slices.Contains(f.Modules, m.ID) {
			yours = append(yours, names[m.ID])
		}
	}
	if !sameSet(theirs, yours) {
		out = append(out, views.ConflictField{Field: "modules", Label: "Modules", Theirs: strings.Join(theirs, ", "), Yours: strings.Join(yours, ", ")})
	}
	logo := views.ConflictField{Field: "logo", Label: "Logo", Theirs: "No logo"}
	if cur.LogoType != "" {
		logo.Theirs, logo.TheirsLogo = "Their logo", logoURL(cur)
	}
	switch {
	case f.logo != nil && !f.RemoveLogo:
		logo.Yours = "The file you chose"
		if f.LogoUpload != "" {
			logo.YoursLogo = "/settings/api-tokens/uploads/" + f.LogoUpload
		}
		out = append(out, logo)
	case f.RemoveLogo && cur.LogoType != "":
		logo.Yours = "No logo (removed)"
		out = append(out, logo)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
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
