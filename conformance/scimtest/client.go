package scimtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// URNs of the schemas and messages the suite sends and expects (RFC 7643
// §8.7, RFC 7644 §3).
const (
	urnUser         = "urn:ietf:params:scim:schemas:core:2.0:User"
	urnGroup        = "urn:ietf:params:scim:schemas:core:2.0:Group"
	urnEnterprise   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	urnSPC          = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	urnResourceType = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	urnSchema       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	urnList         = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	urnSearch       = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	urnPatch        = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	urnBulkRequest  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	urnBulkResponse = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	urnError        = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// mediaType is the SCIM media type (RFC 7644 §3.1).
const mediaType = "application/scim+json"

// Config says which service provider to check.
type Config struct {
	// BaseURL is the SCIM root, for example
	// "http://127.0.0.1:8080/scim/v2"; a trailing slash is ignored.
	BaseURL string
	// Token is the bearer token sent in every request except those of the
	// authentication checks.
	Token string
	// Client sends the requests. Nil means a client with a 60 second
	// timeout per request.
	Client *http.Client
}

// Client is a SCIM client bound to one service provider, handed to each
// Check. It remembers what a check creates so that Close can delete it.
// A Client is meant for one check at a time; the discovery documents it
// reads are shared between the Clients of one run.
type Client struct {
	base  string
	token string
	http  *http.Client
	disc  *discovery

	mu       sync.Mutex
	cleanups []func(context.Context) error
}

// NewClient returns a Client for cfg. Call Close when the checks run with
// it are done.
func NewClient(cfg Config) *Client {
	hc := cfg.Client
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{
		base:  strings.TrimRight(cfg.BaseURL, "/"),
		token: cfg.Token,
		http:  hc,
		disc:  &discovery{},
	}
}

// fork returns a Client with the same server and discovery cache and an
// empty cleanup list, for the next check of a run.
func (c *Client) fork() *Client {
	return &Client{base: c.base, token: c.token, http: c.http, disc: c.disc}
}

// Close deletes, newest first, everything the checks run with c created
// and did not delete themselves. A resource already gone is not an error.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	fns := c.cleanups
	c.cleanups = nil
	c.mu.Unlock()
	var errs []error
	for i := len(fns) - 1; i >= 0; i-- {
		if err := fns[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// onClose registers fn to run at Close.
func (c *Client) onClose(fn func(context.Context) error) {
	c.mu.Lock()
	c.cleanups = append(c.cleanups, fn)
	c.mu.Unlock()
}

// deleteLater makes Close delete the resource at path (for example
// "/Users/2819c223"), accepting 404 for one already deleted.
func (c *Client) deleteLater(path string) {
	c.onClose(func(ctx context.Context) error {
		r, err := c.do(ctx, http.MethodDelete, path, nil)
		if err != nil {
			return fmt.Errorf("cleanup: %w", err)
		}
		if r.status != http.StatusNoContent && r.status != http.StatusOK && r.status != http.StatusNotFound {
			return fmt.Errorf("cleanup: %w", r.errorf("expected 204 or 404"))
		}
		return nil
	})
}

// uniqueName returns a name no other run or check uses:
// "scimtest-<16 hex digits>-<label>". The random part holds only
// lowercase hex digits, so filters on the label cannot match it by chance
// when the label uses letters beyond 'f'.
func uniqueName(label string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "scimtest-" + hex.EncodeToString(b) + "-" + label
}

// request is one HTTP exchange to make.
type request struct {
	method string
	// path is relative to the base URL ("/Users?filter=...") or absolute
	// ("http://...").
	path string
	// body is sent as is when it is []byte, otherwise as its JSON
	// encoding; nil sends no body.
	body any
	// header holds extra request headers.
	header map[string]string
	// token replaces the configured bearer token when set; a pointer to
	// "" sends no Authorization header at all.
	token *string
}

// response is what came back, with the body decoded when it is JSON.
type response struct {
	method string
	path   string
	status int
	header http.Header
	body   []byte
	// obj is the body decoded as a JSON object, or nil.
	obj map[string]any
}

// do sends method to path with body as JSON (nil: no body).
func (c *Client) do(ctx context.Context, method, path string, body any) (*response, error) {
	return c.send(ctx, request{method: method, path: path, body: body})
}

// send makes the exchange r describes. A transport failure is an error; any
// HTTP status is a response.
func (c *Client) send(ctx context.Context, r request) (*response, error) {
	var rd io.Reader
	switch b := r.body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", r.method, r.path, err)
		}
		rd = bytes.NewReader(enc)
	}
	target := r.path
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		target = c.base + r.path
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	req.Header.Set("Accept", mediaType)
	if rd != nil {
		req.Header.Set("Content-Type", mediaType)
	}
	token := c.token
	if r.token != nil {
		token = *r.token
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response body: %w", r.method, r.path, err)
	}
	out := &response{method: r.method, path: r.path, status: resp.StatusCode, header: resp.Header, body: data}
	out.obj, _ = decodeObj(data)
	return out, nil
}

// decodeObj decodes data as a JSON object.
func decodeObj(data []byte) (map[string]any, error) {
	var o map[string]any
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, err
	}
	return o, nil
}

// errorf describes a response that is not what a check expected: the
// request, the status and the start of the body follow the message.
func (r *response) errorf(format string, a ...any) error {
	return fmt.Errorf("%s %s: %s; got %d %s", r.method, shorten(r.path, 120), fmt.Sprintf(format, a...), r.status, shorten(string(r.body), 400))
}

// expect returns an error unless the status is one of codes.
func (r *response) expect(codes ...int) error {
	for _, code := range codes {
		if r.status == code {
			return nil
		}
	}
	want := make([]string, len(codes))
	for i, code := range codes {
		want[i] = fmt.Sprint(code)
	}
	return r.errorf("expected status %s", strings.Join(want, " or "))
}

// expectError returns an error unless the response has the given status
// and a SCIM error body (RFC 7644 §3.12): schemas holding the Error URN
// and status as a JSON string equal to the HTTP status. With scimTypes,
// the body's scimType must be one of them.
func (r *response) expectError(status int, scimTypes ...string) error {
	if r.status != status {
		if len(scimTypes) > 0 {
			return r.errorf("expected status %d with scimType %s", status, strings.Join(scimTypes, " or "))
		}
		return r.expect(status)
	}
	return r.checkErrorBody(scimTypes...)
}

// checkErrorBody checks the body of an error response whatever its status.
func (r *response) checkErrorBody(scimTypes ...string) error {
	if r.obj == nil {
		return r.errorf("expected a SCIM error body (a JSON object)")
	}
	if !hasSchema(r.obj, urnError) {
		return r.errorf("expected schemas to hold %q", urnError)
	}
	s, ok := r.obj["status"].(string)
	if !ok {
		return r.errorf("expected status in the error body as a JSON string")
	}
	if s != fmt.Sprint(r.status) {
		return r.errorf("expected the error body's status %q to equal the HTTP status", s)
	}
	if len(scimTypes) == 0 {
		return nil
	}
	got, _ := r.obj["scimType"].(string)
	for _, t := range scimTypes {
		if got == t {
			return nil
		}
	}
	return r.errorf("expected scimType %s", strings.Join(scimTypes, " or "))
}

// shorten cuts s to at most n bytes for an error message.
func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// obj is a decoded JSON object.
type obj = map[string]any

// lookup walks keys through nested objects, matching each key
// case-insensitively as SCIM attribute names are (RFC 7643 §2.1). It
// returns nil when a step is missing or not an object.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		next, ok := m[k]
		if !ok {
			for mk, mv := range m {
				if strings.EqualFold(mk, k) {
					next, ok = mv, true
					break
				}
			}
		}
		if !ok {
			return nil
		}
		v = next
	}
	return v
}

// has reports whether the attribute at keys is present and not null.
func has(v any, keys ...string) bool { return lookup(v, keys...) != nil }

// str returns the string at keys, or "".
func str(v any, keys ...string) string {
	s, _ := lookup(v, keys...).(string)
	return s
}

// list returns the array at keys, or nil.
func list(v any, keys ...string) []any {
	l, _ := lookup(v, keys...).([]any)
	return l
}

// number returns the number at keys.
func number(v any, keys ...string) (float64, bool) {
	f, ok := lookup(v, keys...).(float64)
	return f, ok
}

// hasSchema reports whether o's schemas array holds urn.
func hasSchema(o any, urn string) bool {
	for _, s := range list(o, "schemas") {
		if s, ok := s.(string); ok && strings.EqualFold(s, urn) {
			return true
		}
	}
	return false
}
