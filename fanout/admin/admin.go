// Package admin serves scimbridge's admin HTTP API: the provisioning
// status of users and connectors, retry and resync. It has its own bearer
// token, distinct from the SCIM token, because it acts on every
// connector.
//
//	GET  /admin/v1/status                      per-connector counts and the keys not ok
//	GET  /admin/v1/users/{id or userName}      one user's status with every connector
//	POST /admin/v1/users/{id or userName}/retry  retry that user now (unparks it)
//	GET  /admin/v1/groups/{id or displayName}    one group's status with every connector
//	POST /admin/v1/groups/{id or displayName}/retry  retry that group now
//	POST /admin/v1/resync                      queue every user and group that needs it
//
// Formulas, their bindings to groups, and plans:
//
//	POST   /admin/v1/formulas                             upload one version (YAML or JSON)
//	GET    /admin/v1/formulas                             every formula and its versions
//	GET    /admin/v1/formulas/{name}                      the latest version (?format=source: as uploaded)
//	GET    /admin/v1/formulas/{name}/versions/{version}   one version (?format=source)
//	DELETE /admin/v1/formulas/{name}/versions/{version}   remove a version no binding pins
//	GET    /admin/v1/bindings                             every binding
//	GET    /admin/v1/groups/{group}/bindings              one group's bindings
//	GET|PUT|DELETE /admin/v1/groups/{group}/bindings/{formula}  one binding (ETag, If-Match, If-None-Match)
//	GET    /admin/v1/plan?user=REF | ?group=REF           what reconciling would do now
//	GET    /admin/v1/plan?user=REF&join=GROUP | &leave=GROUP  ... once the user joined or left a group
//	POST   /admin/v1/plan                                 what a binding change would do, before making it
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/store"
)

// Config configures the admin API.
type Config struct {
	// Store is read for users and statuses. Required.
	Store store.Store
	// Reconciler, when set, is woken after a retry and runs resyncs.
	Reconciler *fanout.Reconciler
	// Connectors are the names of the configured connectors.
	Connectors []string
	// Planner computes plans (the reconciler); nil when no connector is
	// configured, and the plan endpoints then answer 409.
	Planner fanout.Planner
	// TokenHashes are the SHA-256 hashes of the accepted admin tokens.
	TokenHashes [][sha256.Size]byte
	// Logger receives failures; nil discards.
	Logger *slog.Logger
}

// Handler serves the admin API under /admin/v1.
type Handler struct {
	cfg Config
	mux *http.ServeMux
	log *slog.Logger
}

// NewHandler builds the admin API.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("admin: Store is required")
	}
	if len(cfg.TokenHashes) == 0 {
		return nil, errors.New("admin: at least one token is required")
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.mux.HandleFunc("GET /admin/v1/status", h.status)
	h.mux.HandleFunc("GET /admin/v1/users/{user}", h.user)
	h.mux.HandleFunc("POST /admin/v1/users/{user}/retry", h.retry)
	h.mux.HandleFunc("GET /admin/v1/groups/{group}", h.group)
	h.mux.HandleFunc("POST /admin/v1/groups/{group}/retry", h.retryGroup)
	h.mux.HandleFunc("POST /admin/v1/resync", h.resync)
	h.formulaRoutes()
	return h, nil
}

// ServeHTTP checks the admin token and serves the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := r.Header.Get("Authorization")
	if len(a) < 7 || !strings.EqualFold(a[:7], "bearer ") || !h.valid(strings.TrimSpace(a[7:])) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimbridge-admin"`)
		writeErr(w, http.StatusUnauthorized, "a valid admin bearer token is required")
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) valid(token string) bool {
	sum := sha256.Sum256([]byte(token))
	ok := false
	for _, t := range h.cfg.TokenHashes {
		if subtle.ConstantTimeCompare(sum[:], t[:]) == 1 {
			ok = true
		}
	}
	return ok
}

// StatusView is one connector's view of one key, as the API returns it.
type StatusView struct {
	Connector   string     `json:"connector"`
	Key         string     `json:"key"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"lastError,omitempty"`
	LastAttempt *time.Time `json:"lastAttempt,omitempty"`
	LastSuccess *time.Time `json:"lastSuccess,omitempty"`
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
	RemoteID    string     `json:"remoteId,omitempty"`
	// Unapplied is what the connector could not apply while the rest
	// converged.
	Unapplied string `json:"unapplied,omitempty"`
}

func viewOf(s store.Status) StatusView {
	t := func(v time.Time) *time.Time {
		if v.IsZero() {
			return nil
		}
		return &v
	}
	v := StatusView{Connector: s.Connector, Key: s.Key.String(), State: string(s.State), Attempts: s.Attempts,
		LastError: s.LastError, LastAttempt: t(s.LastAttempt), LastSuccess: t(s.LastSuccess), RemoteID: s.RemoteID, Unapplied: s.Unapplied}
	if s.State == store.StateFailed || s.State == store.StatePending {
		v.NextAttempt = t(s.NextAttempt)
	}
	return v
}

// Summary is the answer of GET /admin/v1/status.
type Summary struct {
	Connectors []ConnectorSummary `json:"connectors"`
}

// ConnectorSummary counts a connector's keys by state and lists those
// that are not ok (at most 100).
type ConnectorSummary struct {
	Name     string         `json:"name"`
	Counts   map[string]int `json:"counts"`
	Problems []StatusView   `json:"problems"`
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	var sum Summary
	for _, name := range h.cfg.Connectors {
		cs := ConnectorSummary{Name: name, Counts: map[string]int{}, Problems: []StatusView{}}
		err := h.cfg.Store.ScanStatuses(r.Context(), name, func(s store.Status) bool {
			cs.Counts[string(s.State)]++
			if s.State != store.StateOK && len(cs.Problems) < 100 {
				cs.Problems = append(cs.Problems, viewOf(s))
			}
			return true
		})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		sort.Slice(cs.Problems, func(i, j int) bool { return cs.Problems[i].Key < cs.Problems[j].Key })
		sum.Connectors = append(sum.Connectors, cs)
	}
	writeJSON(w, http.StatusOK, sum)
}

// UserStatus is the answer of GET /admin/v1/users/{user}.
type UserStatus struct {
	ID       string       `json:"id"`
	UserName string       `json:"userName"`
	Active   bool         `json:"active"`
	Groups   []string     `json:"groups"`
	Statuses []StatusView `json:"statuses"`
}

// findUser resolves an id or a userName.
func (h *Handler) findUser(ctx context.Context, ref string) (*store.User, error) {
	if u, err := h.cfg.Store.GetUser(ctx, ref); err == nil {
		return u, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	us, err := h.cfg.Store.FindUsers(ctx, store.UserQuery{UserName: &ref})
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, store.ErrNotFound
	}
	return us[0], nil
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request) {
	u, err := h.findUser(r.Context(), r.PathValue("user"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := UserStatus{ID: u.ID, UserName: u.UserName, Active: u.Active}
	gids, err := h.cfg.Store.UserGroups(r.Context(), u.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, gid := range gids {
		if g, err := h.cfg.Store.GetGroup(r.Context(), gid); err == nil {
			out.Groups = append(out.Groups, g.DisplayName)
		}
	}
	if out.Statuses, err = h.statusViews(r.Context(), store.Key{Kind: store.KindUser, ID: u.ID}); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// statusViews returns key's statuses, one per connector ([] for none).
func (h *Handler) statusViews(ctx context.Context, key store.Key) ([]StatusView, error) {
	sts, err := h.cfg.Store.Statuses(ctx, key)
	if err != nil {
		return nil, err
	}
	out := []StatusView{}
	for _, s := range sts {
		out = append(out, viewOf(s))
	}
	return out, nil
}

// retryKey unparks key and wakes the reconciler.
func (h *Handler) retryKey(ctx context.Context, key store.Key) error {
	if err := h.cfg.Store.Retry(ctx, key); err != nil {
		return err
	}
	if h.cfg.Reconciler != nil {
		h.cfg.Reconciler.Kick()
	}
	return nil
}

func (h *Handler) retry(w http.ResponseWriter, r *http.Request) {
	u, err := h.findUser(r.Context(), r.PathValue("user"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.retryKey(r.Context(), store.Key{Kind: store.KindUser, ID: u.ID}); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": u.ID, "userName": u.UserName, "result": "queued"})
}

// GroupStatus is the answer of GET /admin/v1/groups/{group}.
type GroupStatus struct {
	ID          string       `json:"id"`
	DisplayName string       `json:"displayName"`
	Members     int          `json:"members"`
	Statuses    []StatusView `json:"statuses"`
}

// findGroup resolves an id or a displayName.
func (h *Handler) findGroup(ctx context.Context, ref string) (*store.Group, error) {
	if g, err := h.cfg.Store.GetGroup(ctx, ref); err == nil {
		return g, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return h.cfg.Store.FindGroupByName(ctx, ref)
}

func (h *Handler) group(w http.ResponseWriter, r *http.Request) {
	g, members, err := h.groupWithMembers(r.Context(), r.PathValue("group"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := GroupStatus{ID: g.ID, DisplayName: g.DisplayName, Members: len(members)}
	if out.Statuses, err = h.statusViews(r.Context(), store.Key{Kind: store.KindGroup, ID: g.ID}); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) groupWithMembers(ctx context.Context, ref string) (*store.Group, []store.Member, error) {
	g, err := h.findGroup(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	return h.cfg.Store.GroupWithMembers(ctx, g.ID)
}

func (h *Handler) retryGroup(w http.ResponseWriter, r *http.Request) {
	g, err := h.findGroup(r.Context(), r.PathValue("group"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.retryKey(r.Context(), store.Key{Kind: store.KindGroup, ID: g.ID}); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": g.ID, "displayName": g.DisplayName, "result": "queued"})
}

func (h *Handler) resync(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Reconciler == nil {
		writeErr(w, http.StatusConflict, "no connectors are configured")
		return
	}
	n, err := h.cfg.Reconciler.Resync(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"queued": n})
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		what := "user"
		if r.PathValue("group") != "" {
			what = "group"
		}
		writeErr(w, http.StatusNotFound, "no such "+what)
		return
	}
	h.log.Error("admin request failed", "path", r.URL.Path, "err", err)
	writeErr(w, http.StatusInternalServerError, "internal error; the server log has the details")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
