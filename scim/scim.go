// Package scim is scimbridge's SCIM 2.0 service provider (RFC 7643, RFC
// 7644): Users with the enterprise extension, Groups, discovery, filters,
// PATCH, sorting, paging, projection, ETags and Bulk, on top of
// github.com/elimity-com/scim.
//
// The library routes and schema-validates the resource endpoints (POST,
// PUT, GET by id, DELETE) and serves /Schemas and /ResourceTypes. This
// package wraps it with what it lacks: bearer-token authentication, a
// request body limit, the normalisation of known client quirks (see
// scim/quirks), list queries with our own filter evaluator and the store's
// indexes (see scim/filter), PATCH (see scim/patch), Bulk (see scim/bulk),
// conditional requests, a truthful /ServiceProviderConfig, and one place
// (errors.go) that turns every error into a SCIM error response, so that no
// internal message and no panic ever reaches a client.
//
// A SCIM handler never calls a downstream service: a write is one store
// transaction that also queues the fan-out.
package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	elim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/scimbridge/scimbridge/scim/bulk"
	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/store"
)

// Schema URNs used by this server.
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	schemaListResp   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaSearchReq  = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	schemaPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	contentType      = "application/scim+json"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxBodyBytes      = 1 << 20 // 1 MiB
	DefaultMaxResults        = 1000
	DefaultBulkMaxOperations = 1000
	DefaultBulkMaxPayload    = 4 << 20 // 4 MiB
)

// Config configures the SCIM handler.
type Config struct {
	// Store keeps users and groups. Required.
	Store store.Store
	// Auth verifies bearer tokens. Required.
	Auth Authenticator
	// Prefix is the path the SCIM root is served under. Default "/scim/v2".
	Prefix string
	// BaseURL is the absolute URL of the SCIM root as clients reach it
	// (for example "https://bridge.example.com/scim/v2"), used for
	// meta.location, Location and member $ref. When empty it is derived
	// from each request's Host header and Prefix.
	BaseURL string
	// Logger receives one line per failed request; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes bounds every request body except Bulk's. Default 1 MiB.
	MaxBodyBytes int64
	// MaxResults caps the resources returned in one list response
	// (advertised as filter.maxResults). Default 1000.
	MaxResults int
	// Bulk bounds the /Bulk endpoint; zero fields take the defaults.
	Bulk bulk.Config
	// OnWrite, when set, is called after every successful write (to wake
	// the reconciler); it must not block.
	OnWrite func()
}

// Handler is the SCIM HTTP surface. It implements http.Handler.
type Handler struct {
	cfg    Config
	st     store.Store
	log    *slog.Logger
	libs   sync.Map // absolute base URL -> elim.Server
	nlibs  atomic.Int32
	lib    elim.Server // for a base URL that is not cached
	bulk   http.Handler
	users  *userHandler
	groups *groupHandler
	spc    []byte
}

// NewHandler builds the SCIM handler from cfg.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("scim: config: Store is required")
	}
	if cfg.Auth == nil {
		return nil, errors.New("scim: config: Auth is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/scim/v2"
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxResults <= 0 {
		cfg.MaxResults = DefaultMaxResults
	}
	if cfg.Bulk.MaxOperations <= 0 {
		cfg.Bulk.MaxOperations = DefaultBulkMaxOperations
	}
	if cfg.Bulk.MaxPayloadSize <= 0 {
		cfg.Bulk.MaxPayloadSize = DefaultBulkMaxPayload
	}
	h := &Handler{cfg: cfg, st: cfg.Store, log: cfg.Logger}
	// The filter schema implies the common attributes (id, externalId,
	// meta) that the core schemas do not list.
	us := filter.Schema{Core: schema.CoreUserSchema(), Extensions: []schema.Schema{schema.ExtensionEnterpriseUser()}}
	gs := filter.Schema{Core: groupSchema()}
	h.users = &userHandler{h: h, schema: us}
	h.groups = &groupHandler{h: h, schema: gs}
	lib, err := h.newLib(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	h.lib = lib
	h.spc = h.serviceProviderConfig()
	// Bulk sub-requests come back through ServeHTTP with the outer
	// request's Authorization, so they are authenticated and audited like
	// any other request.
	h.bulk = bulk.Handler(http.HandlerFunc(h.serveAuthenticated), cfg.Prefix, cfg.Bulk)
	return h, nil
}

// maxLibs bounds the servers cached per Host header when no BaseURL is
// configured; past it, locations are relative.
const maxLibs = 32

// libFor returns the library server that renders locations under base.
func (h *Handler) libFor(base string) elim.Server {
	if h.cfg.BaseURL != "" || base == "" {
		return h.lib
	}
	if v, ok := h.libs.Load(base); ok {
		return v.(elim.Server)
	}
	if h.nlibs.Load() >= maxLibs {
		return h.lib
	}
	lib, err := h.newLib(base)
	if err != nil {
		return h.lib
	}
	if _, loaded := h.libs.LoadOrStore(base, lib); !loaded {
		h.nlibs.Add(1)
	}
	return lib
}

func (h *Handler) newLib(base string) (elim.Server, error) {
	lib, err := elim.NewServer(&elim.ServerArgs{
		ServiceProviderConfig: &elim.ServiceProviderConfig{
			SupportFiltering: true,
			SupportPatch:     true,
			MaxResults:       h.cfg.MaxResults,
		},
		ResourceTypes: []elim.ResourceType{
			{
				ID:          optional.NewString("User"),
				Name:        "User",
				Description: optional.NewString("User Account"),
				Endpoint:    "/Users",
				Schema:      schema.CoreUserSchema(),
				SchemaExtensions: []elim.SchemaExtension{
					{Schema: schema.ExtensionEnterpriseUser()},
				},
				Handler: h.users,
			},
			{
				ID:          optional.NewString("Group"),
				Name:        "Group",
				Description: optional.NewString("Group"),
				Endpoint:    "/Groups",
				Schema:      groupSchema(),
				Handler:     h.groups,
			},
		},
	}, elim.WithBaseURL(base))
	if err != nil {
		return elim.Server{}, fmt.Errorf("scim: %w", err)
	}
	return lib, nil
}

type ctxKey int

const stateKey ctxKey = 0

// reqState travels in the request context from the edge to the resource
// handlers.
type reqState struct {
	actor store.Actor
	base  string // absolute SCIM root for this request
}

func stateOf(r *http.Request) *reqState {
	if s, ok := r.Context().Value(stateKey).(*reqState); ok {
		return s
	}
	return &reqState{actor: "unknown"}
}

// ServeHTTP authenticates the request and serves it. Every response is a
// SCIM response; a panic anywhere below becomes a 500 without detail.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("panic serving scim request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeError(w, errInternal())
		}
	}()
	if !strings.HasPrefix(r.URL.Path, h.cfg.Prefix+"/") && r.URL.Path != h.cfg.Prefix {
		writeError(w, errNotFound("no SCIM endpoint at %s", r.URL.Path))
		return
	}
	token, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimbridge"`)
		writeError(w, scimErr(http.StatusUnauthorized, "", "a bearer token is required"))
		return
	}
	actor, ok := h.cfg.Auth.Authenticate(r.Context(), token)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimbridge", error="invalid_token"`)
		writeError(w, scimErr(http.StatusUnauthorized, "", "the bearer token is not valid"))
		return
	}
	st := &reqState{actor: actor, base: h.baseURL(r)}
	r = r.WithContext(context.WithValue(r.Context(), stateKey, st))
	if rel := strings.TrimPrefix(r.URL.Path, h.cfg.Prefix); rel == "/Bulk" {
		if r.Method != http.MethodPost {
			writeError(w, scimErr(http.StatusMethodNotAllowed, "", "Bulk takes POST"))
			return
		}
		h.bulk.ServeHTTP(h.notifying(w, r), r)
		return
	}
	h.serve(h.notifying(w, r), r, st)
}

// notifying calls Config.OnWrite after a successful write request.
func (h *Handler) notifying(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if h.cfg.OnWrite == nil || r.Method == http.MethodGet {
		return w
	}
	return &writeNotifier{ResponseWriter: w, fn: h.cfg.OnWrite}
}

type writeNotifier struct {
	http.ResponseWriter
	fn   func()
	done bool
}

func (w *writeNotifier) WriteHeader(code int) {
	if !w.done && code >= 200 && code < 300 {
		w.done = true
		w.fn()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writeNotifier) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// serveAuthenticated serves a Bulk sub-request: it was authenticated as
// part of the outer request, whose state its context carries.
func (h *Handler) serveAuthenticated(w http.ResponseWriter, r *http.Request) {
	st := stateOf(r)
	if !strings.HasPrefix(r.URL.Path, h.cfg.Prefix+"/") {
		writeError(w, errNotFound("no SCIM endpoint at %s", r.URL.Path))
		return
	}
	if strings.TrimPrefix(r.URL.Path, h.cfg.Prefix) == "/Bulk" {
		writeError(w, errInvalidSyntax("a Bulk request cannot contain a Bulk operation"))
		return
	}
	h.serve(w, r, st)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, st *reqState) {
	rel := strings.TrimPrefix(r.URL.Path, h.cfg.Prefix)
	w.Header().Set("Content-Type", contentType)

	// Bodies are read once here, bounded, so that an oversized request is
	// a clean 413 and never a half-read document.
	var body []byte
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		b, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.MaxBodyBytes+1))
		if err != nil {
			writeError(w, errInvalidSyntax("cannot read the request body"))
			return
		}
		if int64(len(b)) > h.cfg.MaxBodyBytes {
			writeError(w, scimErr(http.StatusRequestEntityTooLarge, "", "the request body exceeds %d bytes", h.cfg.MaxBodyBytes))
			return
		}
		body = b
	}

	kind, id, sub := splitPath(rel)
	var rh resourceHandler
	switch kind {
	case "Users":
		rh = h.users
	case "Groups":
		rh = h.groups
	case "ServiceProviderConfig":
		if r.Method != http.MethodGet || id != "" {
			writeError(w, scimErr(http.StatusMethodNotAllowed, "", "ServiceProviderConfig is read-only"))
			return
		}
		_, _ = w.Write(h.spc)
		return
	case "Me":
		writeError(w, scimErr(http.StatusNotImplemented, "", "/Me is not supported: tokens authenticate clients, not users"))
		return
	case "", ".search":
		if kind == ".search" || r.Method == http.MethodGet {
			writeError(w, scimErr(http.StatusNotImplemented, "", "search across resource types is not supported; use /Users or /Groups"))
			return
		}
	case "Schemas", "ResourceTypes":
		if r.Method != http.MethodGet {
			writeError(w, scimErr(http.StatusMethodNotAllowed, "", "%s is read-only", kind))
			return
		}
		h.libFor(st.base).ServeHTTP(w, cloneWith(r, rel, nil))
		return
	default:
		writeError(w, errNotFound("no SCIM endpoint at %s", r.URL.Path))
		return
	}
	if rh == nil {
		writeError(w, scimErr(http.StatusMethodNotAllowed, "", "method %s not allowed here", r.Method))
		return
	}

	switch {
	case id == "" && r.Method == http.MethodGet:
		q, err := listQueryFromURL(r.URL.Query())
		if err != nil {
			writeError(w, err)
			return
		}
		h.list(w, r, rh, q)
	case id == ".search" && sub == "":
		if r.Method != http.MethodPost {
			writeError(w, scimErr(http.StatusMethodNotAllowed, "", ".search takes POST"))
			return
		}
		q, err := listQueryFromSearch(body)
		if err != nil {
			writeError(w, err)
			return
		}
		h.list(w, r, rh, q)
	case id == "" && r.Method == http.MethodPost:
		b, err := rh.normalise(r, body)
		if err != nil {
			writeError(w, err)
			return
		}
		h.libFor(st.base).ServeHTTP(w, cloneWith(r, rel, b))
	case id != "" && sub == "" && id != ".search":
		switch r.Method {
		case http.MethodGet:
			if inm := r.Header.Get("If-None-Match"); inm != "" {
				if v, err := rh.version(r.Context(), id); err == nil && etagMatches(inm, v) {
					w.Header().Set("ETag", etag(v))
					w.WriteHeader(http.StatusNotModified)
					return
				}
			}
			if q := r.URL.Query(); !q.Has("attributes") && !q.Has("excludedAttributes") {
				if rh == resourceHandler(h.users) {
					h.users.getUserFast(w, r, id)
					return
				}
				h.groups.getGroupFast(w, r, id)
				return
			}
			h.libFor(st.base).ServeHTTP(w, cloneWith(r, rel, nil))
		case http.MethodPut:
			b, err := rh.normalise(r, body)
			if err != nil {
				writeError(w, err)
				return
			}
			h.libFor(st.base).ServeHTTP(w, cloneWith(r, rel, b))
		case http.MethodDelete:
			h.libFor(st.base).ServeHTTP(w, cloneWith(r, rel, nil))
		case http.MethodPatch:
			h.patch(w, r, rh, id, body)
		default:
			writeError(w, scimErr(http.StatusMethodNotAllowed, "", "method %s not allowed on a resource", r.Method))
		}
	default:
		writeError(w, scimErr(http.StatusMethodNotAllowed, "", "method %s not allowed here", r.Method))
	}
}

// splitPath splits "/Users/abc" into ("Users", "abc", "").
func splitPath(rel string) (kind, id, sub string) {
	parts := strings.SplitN(strings.TrimPrefix(rel, "/"), "/", 3)
	kind = parts[0]
	if len(parts) > 1 {
		id, _ = url.PathUnescape(parts[1])
	}
	if len(parts) > 2 {
		sub = parts[2]
	}
	return kind, id, sub
}

// cloneWith hands r to the library with the path relative to the SCIM
// root (the library expects "/Users/...") and body as its body.
func cloneWith(r *http.Request, rel string, body []byte) *http.Request {
	r2 := r.Clone(r.Context())
	u := *r.URL
	u.Path = rel
	u.RawPath = ""
	r2.URL = &u
	if body != nil {
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.ContentLength = int64(len(body))
	} else {
		r2.Body = http.NoBody
	}
	return r2
}

func bearer(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	if len(a) < 7 || !strings.EqualFold(a[:7], "bearer ") {
		return "", false
	}
	t := strings.TrimSpace(a[7:])
	return t, t != ""
}

// baseURL is the absolute SCIM root for r.
func (h *Handler) baseURL(r *http.Request) string {
	if h.cfg.BaseURL != "" {
		return h.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + host + h.cfg.Prefix
}

func (h *Handler) serviceProviderConfig() []byte {
	doc := map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/scimbridge/scimbridge#readme",
		"patch":            map[string]any{"supported": true},
		"bulk": map[string]any{
			"supported":      true,
			"maxOperations":  h.cfg.Bulk.MaxOperations,
			"maxPayloadSize": h.cfg.Bulk.MaxPayloadSize,
		},
		"filter":         map[string]any{"supported": true, "maxResults": h.cfg.MaxResults},
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": true},
		"etag":           map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type":        "oauthbearertoken",
			"name":        "Bearer token",
			"description": "A static bearer token issued by scimbridge (scimbridge tokens create), sent as Authorization: Bearer <token>.",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     h.cfg.Prefix + "/ServiceProviderConfig",
		},
	}
	b, _ := json.Marshal(doc)
	return b
}
