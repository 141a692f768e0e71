package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/formulas"
	"github.com/scimbridge/scimbridge/store"
)

// MaxFormulaBytes bounds an uploaded formula document and a binding or
// plan request body; a larger one is answered 413.
const MaxFormulaBytes = 1 << 20

// actor is who the admin API's writes are recorded as in the audit log.
const actor store.Actor = "admin"

func (h *Handler) formulaRoutes() {
	h.mux.HandleFunc("POST /admin/v1/formulas", h.pushFormula)
	h.mux.HandleFunc("GET /admin/v1/formulas", h.listFormulas)
	h.mux.HandleFunc("GET /admin/v1/formulas/{name}", h.getFormula)
	h.mux.HandleFunc("GET /admin/v1/formulas/{name}/versions/{version}", h.getFormula)
	h.mux.HandleFunc("DELETE /admin/v1/formulas/{name}/versions/{version}", h.deleteFormula)
	h.mux.HandleFunc("GET /admin/v1/bindings", h.listBindings)
	h.mux.HandleFunc("GET /admin/v1/groups/{group}/bindings", h.listBindings)
	h.mux.HandleFunc("GET /admin/v1/groups/{group}/bindings/{formula}", h.getBinding)
	h.mux.HandleFunc("PUT /admin/v1/groups/{group}/bindings/{formula}", h.putBinding)
	h.mux.HandleFunc("DELETE /admin/v1/groups/{group}/bindings/{formula}", h.deleteBinding)
	h.mux.HandleFunc("GET /admin/v1/plan", h.plan)
	h.mux.HandleFunc("POST /admin/v1/plan", h.planChange)
}

// Problem is one problem with a formula document or with parameter
// values, as a 422 answer lists them.
type Problem struct {
	// Path locates it: "spec.resources.coder.workspaces[0].name",
	// "params.storage_gb"; "" for the document as a whole.
	Path string `json:"path,omitempty"`
	// Line and Column are 1-based positions in the uploaded source, 0
	// when unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// ErrorBody is the body of every error answer: a message and, for a 422,
// every problem found.
type ErrorBody struct {
	Error    string    `json:"error"`
	Problems []Problem `json:"problems,omitempty"`
}

// problemsOf lists the problems of a formulas error (formulas.Errors),
// or the error itself as one problem.
func problemsOf(err error) []Problem {
	var es formulas.Errors
	if !errors.As(err, &es) {
		return []Problem{{Message: err.Error()}}
	}
	out := make([]Problem, len(es))
	for i, e := range es {
		out[i] = Problem{Path: e.Path, Line: e.Line, Column: e.Column, Message: e.Msg}
	}
	return out
}

func writeProblems(w http.ResponseWriter, what string, err error) {
	ps := problemsOf(err)
	n := "1 problem"
	if len(ps) != 1 {
		n = strconv.Itoa(len(ps)) + " problems"
	}
	writeJSON(w, http.StatusUnprocessableEntity, ErrorBody{Error: n + " in " + what, Problems: ps})
}

// failWith answers 404 with notFound for store.ErrNotFound, and 500 (the
// error logged, not shown) for anything else.
func (h *Handler) failWith(w http.ResponseWriter, r *http.Request, err error, notFound string) {
	if errors.Is(err, store.ErrNotFound) {
		writeErr(w, http.StatusNotFound, notFound)
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		writeErr(w, http.StatusServiceUnavailable, "the request was cancelled or timed out")
		return
	}
	h.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeErr(w, http.StatusInternalServerError, "internal error; the server log has the details")
}

// readBody reads a request body of at most MaxFormulaBytes, answering
// 413 (and returning false) when it is larger.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFormulaBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxFormulaBytes))
		} else {
			writeErr(w, http.StatusBadRequest, "the body could not be read")
		}
		return nil, false
	}
	return body, true
}

// decodeJSON reads a JSON request body into v, refusing unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := readBody(w, r)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeErr(w, http.StatusBadRequest, "the body is not the expected JSON: "+err.Error())
		return false
	}
	return true
}

// versionsOf returns the stored versions of one formula, ordered by
// formulas.CompareVersions (the last is the latest).
func versionsOf(ctx context.Context, st store.FormulaStore, name string) ([]store.Formula, error) {
	all, err := st.ListFormulas(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Formula
	for _, f := range all {
		if f.Name == name {
			out = append(out, f)
		}
	}
	sortVersions(out)
	return out, nil
}

func sortVersions(fs []store.Formula) {
	sort.SliceStable(fs, func(i, j int) bool { return formulas.CompareVersions(fs[i].Version, fs[j].Version) < 0 })
}

// formulaLocation is the URL of one stored version.
func formulaLocation(name, version string) string {
	return "/admin/v1/formulas/" + url.PathEscape(name) + "/versions/" + url.PathEscape(version)
}

// PushResult is the answer of POST /admin/v1/formulas.
type PushResult struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Result is "created" (201) or "unchanged" (200: that version was
	// stored with the same source already).
	Result string `json:"result"`
}

// ConflictError is the error of Push for a version that is stored with
// another source. It wraps store.ErrConflict.
type ConflictError struct {
	// Msg says which version and what to do.
	Msg string
}

func (e *ConflictError) Error() string { return e.Msg }

// Unwrap returns store.ErrConflict.
func (e *ConflictError) Unwrap() error { return store.ErrConflict }

// Push parses a formula document and stores it as one version, as
// POST /admin/v1/formulas does; the formula folder loader uses it too.
// A stored version is immutable: pushing the same source again is a
// no-op (created is false), and another source under a stored version,
// or under one of the same precedence ("1.0.0+a" and "1.0.0+b", between
// which "latest" could not choose), is a *ConflictError. An invalid
// document gives formulas.Errors, with every problem.
func Push(ctx context.Context, st store.FormulaStore, by store.Actor, src []byte) (f *formulas.Formula, created bool, err error) {
	f, err = formulas.Parse(src)
	if err != nil {
		return nil, false, err
	}
	name, version := f.Metadata.Name, f.Spec.Version
	conflict := &ConflictError{Msg: fmt.Sprintf("version %s of %s is stored with another source; bump spec.version", version, name)}
	stored, err := st.GetFormula(ctx, name, version)
	switch {
	case err == nil:
		if !bytes.Equal(stored.Source, src) {
			return f, false, conflict
		}
		return f, false, nil
	case !errors.Is(err, store.ErrNotFound):
		return f, false, err
	}
	others, err := versionsOf(ctx, st, name)
	if err != nil {
		return f, false, err
	}
	for _, o := range others {
		if formulas.CompareVersions(o.Version, version) == 0 {
			return f, false, &ConflictError{Msg: fmt.Sprintf("version %s of %s has the precedence of the stored version %s (build metadata does not count); bump spec.version", version, name, o.Version)}
		}
	}
	err = st.PutFormula(ctx, by, &store.Formula{Name: name, Version: version, Source: src})
	if errors.Is(err, store.ErrConflict) { // stored meanwhile by another upload
		return f, false, conflict
	}
	if err != nil {
		return f, false, err
	}
	return f, true, nil
}

// pushFormula stores one uploaded formula version.
func (h *Handler) pushFormula(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			writeErr(w, http.StatusUnsupportedMediaType, "the Content-Type does not parse")
			return
		case mt == "application/yaml", mt == "application/x-yaml", mt == "text/yaml", mt == "text/x-yaml",
			mt == "application/json", mt == "text/plain":
		default:
			writeErr(w, http.StatusUnsupportedMediaType, "send the formula as application/yaml, application/json or text/plain, not "+mt)
			return
		}
	}
	src, ok := readBody(w, r)
	if !ok {
		return
	}
	f, created, err := Push(r.Context(), h.cfg.Store, actor, src)
	var es formulas.Errors
	var ce *ConflictError
	switch {
	case errors.As(err, &es):
		writeProblems(w, "the formula", err)
		return
	case errors.As(err, &ce):
		writeErr(w, http.StatusConflict, ce.Msg)
		return
	case err != nil:
		h.failWith(w, r, err, "")
		return
	}
	res, status := PushResult{Name: f.Metadata.Name, Version: f.Spec.Version, Result: "unchanged"}, http.StatusOK
	if created {
		res.Result, status = "created", http.StatusCreated
	}
	w.Header().Set("Location", formulaLocation(res.Name, res.Version))
	writeJSON(w, status, res)
}

// FormulaVersion is one stored version in a FormulaSummary.
type FormulaVersion struct {
	Version string    `json:"version"`
	Latest  bool      `json:"latest,omitempty"`
	Created time.Time `json:"created"`
}

// FormulaSummary is one formula in GET /admin/v1/formulas; title,
// description and tags are those of the latest version.
type FormulaSummary struct {
	Name        string   `json:"name"`
	Latest      string   `json:"latest"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	// Versions are ordered by semantic versioning precedence, oldest
	// first.
	Versions []FormulaVersion `json:"versions"`
}

// FormulaList is the answer of GET /admin/v1/formulas.
type FormulaList struct {
	Formulas []FormulaSummary `json:"formulas"`
}

func (h *Handler) listFormulas(w http.ResponseWriter, r *http.Request) {
	all, err := h.cfg.Store.ListFormulas(r.Context())
	if err != nil {
		h.failWith(w, r, err, "")
		return
	}
	byName := map[string][]store.Formula{}
	var names []string
	for _, f := range all {
		if _, ok := byName[f.Name]; !ok {
			names = append(names, f.Name)
		}
		byName[f.Name] = append(byName[f.Name], f)
	}
	sort.Strings(names)
	out := FormulaList{Formulas: []FormulaSummary{}}
	for _, name := range names {
		vs := byName[name]
		sortVersions(vs)
		latest := vs[len(vs)-1]
		s := FormulaSummary{Name: name, Latest: latest.Version}
		for _, v := range vs {
			s.Versions = append(s.Versions, FormulaVersion{Version: v.Version, Latest: v.Version == latest.Version, Created: v.Meta.Created})
		}
		if f, err := formulas.Parse(latest.Source); err == nil {
			s.Title, s.Description, s.Tags = f.Metadata.Title, f.Metadata.Description, f.Metadata.Tags
		}
		out.Formulas = append(out.Formulas, s)
	}
	writeJSON(w, http.StatusOK, out)
}

// FormulaView is the answer of GET /admin/v1/formulas/{name} and
// /admin/v1/formulas/{name}/versions/{version}.
type FormulaView struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Latest says whether this is the version that bindings without a
	// pinned version follow.
	Latest   bool      `json:"latest"`
	Versions []string  `json:"versions"`
	Created  time.Time `json:"created"`
	// Formula is the parsed document; nil, with Problems, when the
	// stored source no longer parses (a stricter server version).
	Formula  *formulas.Formula `json:"formula"`
	Problems []Problem         `json:"problems,omitempty"`
	// Source is the document as uploaded.
	Source string `json:"source"`
}

func (h *Handler) getFormula(w http.ResponseWriter, r *http.Request) {
	name, version := r.PathValue("name"), r.PathValue("version")
	vs, err := versionsOf(r.Context(), h.cfg.Store, name)
	if err != nil {
		h.failWith(w, r, err, "")
		return
	}
	if len(vs) == 0 {
		writeErr(w, http.StatusNotFound, "no formula "+name+" is stored")
		return
	}
	sf := &vs[len(vs)-1]
	if version != "" {
		sf = nil
		for i := range vs {
			if vs[i].Version == version {
				sf = &vs[i]
			}
		}
		if sf == nil {
			writeErr(w, http.StatusNotFound, fmt.Sprintf("no version %s of formula %s is stored", version, name))
			return
		}
	}
	if r.URL.Query().Get("format") == "source" {
		ct := "application/yaml"
		if t := bytes.TrimSpace(sf.Source); len(t) > 0 && t[0] == '{' {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(sf.Source)
		return
	}
	out := FormulaView{Name: sf.Name, Version: sf.Version, Latest: sf.Version == vs[len(vs)-1].Version,
		Created: sf.Meta.Created, Source: string(sf.Source)}
	for _, v := range vs {
		out.Versions = append(out.Versions, v.Version)
	}
	if out.Formula, err = formulas.Parse(sf.Source); err != nil {
		out.Problems = problemsOf(err)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) deleteFormula(w http.ResponseWriter, r *http.Request) {
	name, version := r.PathValue("name"), r.PathValue("version")
	err := h.cfg.Store.DeleteFormula(r.Context(), actor, name, version)
	if errors.Is(err, store.ErrConflict) {
		msg := fmt.Sprintf("version %s of %s is pinned by a binding; change or remove the binding first", version, name)
		if bs, lerr := h.cfg.Store.Bindings(r.Context(), ""); lerr == nil {
			var groups []string
			for _, b := range bs {
				if b.Formula == name && b.Version == version {
					groups = append(groups, h.groupName(r.Context(), b.Group))
				}
			}
			if len(groups) > 0 {
				msg = fmt.Sprintf("version %s of %s is pinned by the binding of group %s; change or remove it first",
					version, name, strings.Join(groups, ", "))
			}
		}
		writeErr(w, http.StatusConflict, msg)
		return
	}
	if err != nil {
		h.failWith(w, r, err, fmt.Sprintf("no version %s of formula %s is stored", version, name))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// groupName is a group's displayName, or its id when it cannot be read.
func (h *Handler) groupName(ctx context.Context, id string) string {
	if g, err := h.cfg.Store.GetGroup(ctx, id); err == nil {
		return g.DisplayName
	}
	return id
}

// BindingView is one binding as the API shows it.
type BindingView struct {
	// Group is the group's SCIM id, GroupName its displayName.
	Group     string `json:"group"`
	GroupName string `json:"groupName"`
	Formula   string `json:"formula"`
	// Version is the pinned version; "" follows the latest.
	Version string `json:"version,omitempty"`
	// Resolved is the version the binding means now ("" when no version
	// of the formula is stored any more).
	Resolved string            `json:"resolvedVersion,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	// ETag is the value for If-Match.
	ETag     string    `json:"etag"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
}

// BindingList is the answer of GET /admin/v1/bindings and
// GET /admin/v1/groups/{group}/bindings.
type BindingList struct {
	Bindings []BindingView `json:"bindings"`
}

func etagOf(b *store.Binding) string { return `W/"` + strconv.FormatUint(b.Meta.Version, 10) + `"` }

func viewOfBinding(b *store.Binding, groupName string, latest map[string]string) BindingView {
	v := BindingView{Group: b.Group, GroupName: groupName, Formula: b.Formula, Version: b.Version, Resolved: b.Version,
		Params: b.Params, ETag: etagOf(b), Created: b.Meta.Created, Modified: b.Meta.Modified}
	if v.Resolved == "" {
		v.Resolved = latest[b.Formula]
	}
	return v
}

func (h *Handler) listBindings(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	gid := ""
	if ref := r.PathValue("group"); ref != "" {
		g, err := h.findGroup(ctx, ref)
		if err != nil {
			h.failWith(w, r, err, "no group "+ref)
			return
		}
		gid = g.ID
	}
	bs, err := h.cfg.Store.Bindings(ctx, gid)
	if err != nil {
		h.failWith(w, r, err, "")
		return
	}
	latest, err := fanout.LatestVersions(ctx, h.cfg.Store)
	if err != nil {
		h.failWith(w, r, err, "")
		return
	}
	out := BindingList{Bindings: []BindingView{}}
	names := map[string]string{}
	for i := range bs {
		name, ok := names[bs[i].Group]
		if !ok {
			name = h.groupName(ctx, bs[i].Group)
			names[bs[i].Group] = name
		}
		out.Bindings = append(out.Bindings, viewOfBinding(&bs[i], name, latest))
	}
	writeJSON(w, http.StatusOK, out)
}

// bindingOf resolves the group of the path and reads its binding of the
// path's formula; it answers 404 itself and returns nil then.
func (h *Handler) bindingOf(w http.ResponseWriter, r *http.Request) (*store.Group, *store.Binding) {
	ref, name := r.PathValue("group"), r.PathValue("formula")
	g, err := h.findGroup(r.Context(), ref)
	if err != nil {
		h.failWith(w, r, err, "no group "+ref)
		return nil, nil
	}
	b, err := h.cfg.Store.GetBinding(r.Context(), g.ID, name)
	if err != nil {
		h.failWith(w, r, err, fmt.Sprintf("group %s has no binding of formula %s", g.DisplayName, name))
		return nil, nil
	}
	return g, b
}

func (h *Handler) getBinding(w http.ResponseWriter, r *http.Request) {
	g, b := h.bindingOf(w, r)
	if b == nil {
		return
	}
	latest, err := fanout.LatestVersions(r.Context(), h.cfg.Store)
	if err != nil {
		h.failWith(w, r, err, "")
		return
	}
	w.Header().Set("ETag", etagOf(b))
	writeJSON(w, http.StatusOK, viewOfBinding(b, g.DisplayName, latest))
}

// BindingRequest is the body of PUT /admin/v1/groups/{group}/bindings/{formula}.
type BindingRequest struct {
	// Version pins a formula version; "" follows the latest.
	Version string `json:"version"`
	// Params are parameter values as text ("storage_gb": "1000").
	Params map[string]string `json:"params"`
}

// checkBinding checks that the formula (at version, or any version for
// "") is stored and that params satisfy it (the pinned version, or the
// latest). It answers 404 or 422 itself and returns false then.
func (h *Handler) checkBinding(w http.ResponseWriter, r *http.Request, name, version string, params map[string]string) bool {
	ctx := r.Context()
	var sf *store.Formula
	if version != "" {
		var err error
		if sf, err = h.cfg.Store.GetFormula(ctx, name, version); err != nil {
			h.failWith(w, r, err, fmt.Sprintf("no version %s of formula %s is stored", version, name))
			return false
		}
	} else {
		vs, err := versionsOf(ctx, h.cfg.Store, name)
		if err != nil {
			h.failWith(w, r, err, "")
			return false
		}
		if len(vs) == 0 {
			writeErr(w, http.StatusNotFound, "no formula "+name+" is stored")
			return false
		}
		sf = &vs[len(vs)-1]
	}
	f, err := formulas.Parse(sf.Source)
	if err != nil {
		writeProblems(w, fmt.Sprintf("the stored formula %s@%s", sf.Name, sf.Version), err)
		return false
	}
	if _, err := f.ResolveParams(params); err != nil {
		writeProblems(w, fmt.Sprintf("the parameters for %s@%s", sf.Name, sf.Version), err)
		return false
	}
	return true
}

// precondition reads If-Match and If-None-Match as a store ifVersion.
// mustExist is set for If-Match: *, which the store has no value for.
func precondition(r *http.Request) (ifVersion uint64, mustExist bool, err error) {
	im, inm := strings.TrimSpace(r.Header.Get("If-Match")), strings.TrimSpace(r.Header.Get("If-None-Match"))
	switch {
	case im != "" && inm != "":
		return 0, false, errors.New("send If-Match or If-None-Match, not both")
	case im == "*":
		return 0, true, nil
	case im != "":
		v, perr := strconv.ParseUint(strings.Trim(strings.TrimPrefix(im, "W/"), `"`), 10, 64)
		if perr != nil || v == 0 || v == store.IfAbsent {
			// A tag this API never gave out matches nothing.
			return store.IfAbsent - 1, false, nil
		}
		return v, false, nil
	case inm == "*":
		return store.IfAbsent, false, nil
	case inm != "":
		return 0, false, errors.New("If-None-Match takes only * here")
	}
	return 0, false, nil
}

func (h *Handler) putBinding(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref, name := r.PathValue("group"), r.PathValue("formula")
	ifVersion, mustExist, err := precondition(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	var req BindingRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	g, err := h.findGroup(ctx, ref)
	if err != nil {
		h.failWith(w, r, err, "no group "+ref)
		return
	}
	if !h.checkBinding(w, r, name, req.Version, req.Params) {
		return
	}
	stale := func() {
		writeErr(w, http.StatusPreconditionFailed, fmt.Sprintf("the binding of %s to group %s changed since it was read; read it again", name, g.DisplayName))
	}
	if mustExist {
		cur, err := h.cfg.Store.GetBinding(ctx, g.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			stale()
			return
		}
		if err != nil {
			h.failWith(w, r, err, "")
			return
		}
		ifVersion = cur.Meta.Version
	}
	b := &store.Binding{Group: g.ID, Formula: name, Version: req.Version, Params: req.Params}
	err = h.cfg.Store.PutBinding(ctx, actor, b, ifVersion)
	switch {
	case errors.Is(err, store.ErrVersionMismatch) && ifVersion == store.IfAbsent:
		writeErr(w, http.StatusPreconditionFailed, fmt.Sprintf("group %s already has a binding of %s (If-None-Match: *)", g.DisplayName, name))
		return
	case errors.Is(err, store.ErrVersionMismatch),
		errors.Is(err, store.ErrNotFound) && ifVersion != 0 && ifVersion != store.IfAbsent: // If-Match on a binding that is gone
		stale()
		return
	case err != nil:
		h.failWith(w, r, err, "no group "+ref)
		return
	}
	latest, err := fanout.LatestVersions(ctx, h.cfg.Store)
	if err != nil {
		h.failWith(w, r, err, "")
		return
	}
	status := http.StatusOK
	if b.Meta.Version == 1 {
		status = http.StatusCreated
		w.Header().Set("Location", "/admin/v1/groups/"+url.PathEscape(g.ID)+"/bindings/"+url.PathEscape(name))
	}
	w.Header().Set("ETag", etagOf(b))
	writeJSON(w, status, viewOfBinding(b, g.DisplayName, latest))
}

func (h *Handler) deleteBinding(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref, name := r.PathValue("group"), r.PathValue("formula")
	ifVersion, _, err := precondition(r)
	if err == nil && ifVersion == store.IfAbsent {
		err = errors.New("If-None-Match does not apply to DELETE")
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	g, err := h.findGroup(ctx, ref)
	if err != nil {
		h.failWith(w, r, err, "no group "+ref)
		return
	}
	err = h.cfg.Store.DeleteBinding(ctx, actor, g.ID, name, ifVersion)
	switch {
	case errors.Is(err, store.ErrVersionMismatch),
		errors.Is(err, store.ErrNotFound) && r.Header.Get("If-Match") != "":
		writeErr(w, http.StatusPreconditionFailed, fmt.Sprintf("the binding of %s to group %s changed since it was read; read it again", name, g.DisplayName))
		return
	case err != nil:
		h.failWith(w, r, err, fmt.Sprintf("group %s has no binding of formula %s", g.DisplayName, name))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// plan answers GET /admin/v1/plan?user=REF or ?group=REF: what
// reconciling that user, or every member of that group, would do now;
// with &join=GROUP or &leave=GROUP, what it would do once the user joined
// or left that group.
func (h *Handler) plan(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	userRef, groupRef := q.Get("user"), q.Get("group")
	if (userRef == "") == (groupRef == "") {
		writeErr(w, http.StatusBadRequest, "give one of ?user=ID_OR_USERNAME or ?group=ID_OR_DISPLAYNAME")
		return
	}
	if h.cfg.Planner == nil {
		writeErr(w, http.StatusConflict, "no connectors are configured")
		return
	}
	join, leave := q.Get("join"), q.Get("leave")
	if (join != "" || leave != "") && (userRef == "" || (join != "" && leave != "")) {
		writeErr(w, http.StatusBadRequest, "join= or leave= go with user=, one at a time")
		return
	}
	var ids []string
	if userRef != "" {
		u, err := h.findUser(ctx, userRef)
		if err != nil {
			h.failWith(w, r, err, "no user "+userRef)
			return
		}
		if ref := join + leave; ref != "" {
			h.planMembership(w, r, u.ID, ref, join != "")
			return
		}
		ids = []string{u.ID}
	} else {
		var err error
		if _, ids, err = h.members(ctx, groupRef); err != nil {
			h.failWith(w, r, err, "no group "+groupRef)
			return
		}
	}
	h.answerPlan(w, r, ids, nil)
}

// planMembership answers GET /admin/v1/plan?user=REF&join=GROUP (or
// leave=GROUP): what reconciling the user would do once the membership
// changed, before it is made.
func (h *Handler) planMembership(w http.ResponseWriter, r *http.Request, userID, groupRef string, join bool) {
	mp, ok := h.cfg.Planner.(fanout.MembershipPlanner)
	if !ok {
		writeErr(w, http.StatusNotImplemented, "this server cannot plan membership changes")
		return
	}
	g, err := h.findGroup(r.Context(), groupRef)
	if err != nil {
		h.failWith(w, r, err, "no group "+groupRef)
		return
	}
	p, err := mp.PlanMembership(r.Context(), userID, fanout.MembershipChange{Group: g.ID, Join: join})
	if err != nil {
		h.failWith(w, r, err, "the user or group changed while planning; try again")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// members resolves a group and lists its members' ids.
func (h *Handler) members(ctx context.Context, ref string) (*store.Group, []string, error) {
	g, ms, err := h.groupWithMembers(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	return g, ids, nil
}

func (h *Handler) answerPlan(w http.ResponseWriter, r *http.Request, ids []string, change *fanout.BindingChange) {
	p, err := h.cfg.Planner.Plan(r.Context(), ids, change)
	if err != nil {
		h.failWith(w, r, err, "a user or group changed while planning; try again")
		return
	}
	if p.Users == nil {
		p.Users = []fanout.UserPlan{}
	}
	writeJSON(w, http.StatusOK, p)
}

// PlanRequest is the body of POST /admin/v1/plan: a binding change to
// plan before making it.
type PlanRequest struct {
	// Group is the group's id or displayName.
	Group string `json:"group"`
	// Formula names the formula.
	Formula string `json:"formula"`
	// Version pins a version; "" follows the latest.
	Version string `json:"version"`
	// Params are the binding's parameter values, as text.
	Params map[string]string `json:"params"`
	// Remove plans removing the group's binding of Formula instead.
	Remove bool `json:"remove"`
}

func (h *Handler) planChange(w http.ResponseWriter, r *http.Request) {
	var req PlanRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Group == "" || req.Formula == "" {
		writeErr(w, http.StatusBadRequest, "group and formula are required")
		return
	}
	if h.cfg.Planner == nil {
		writeErr(w, http.StatusConflict, "no connectors are configured")
		return
	}
	g, ids, err := h.members(r.Context(), req.Group)
	if err != nil {
		h.failWith(w, r, err, "no group "+req.Group)
		return
	}
	change := &fanout.BindingChange{Binding: store.Binding{Group: g.ID, Formula: req.Formula, Version: req.Version, Params: req.Params}, Remove: req.Remove}
	if req.Remove {
		if _, err := h.cfg.Store.GetBinding(r.Context(), g.ID, req.Formula); err != nil {
			h.failWith(w, r, err, fmt.Sprintf("group %s has no binding of formula %s", g.DisplayName, req.Formula))
			return
		}
	} else if !h.checkBinding(w, r, req.Formula, req.Version, req.Params) {
		return
	}
	h.answerPlan(w, r, ids, change)
}
