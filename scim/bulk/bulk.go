// Package bulk serves the SCIM /Bulk endpoint (RFC 7644 §3.7) by replaying
// each operation of a BulkRequest as an internal request to the server's
// own handler for /Users and /Groups, so that a bulk operation is
// validated, authorised, stored and audited exactly like the same request
// sent on its own.
//
// Choices where the RFC leaves room:
//
//   - Operations run one at a time, in request order, except that an
//     operation referring to "bulkId:x" waits until the POST that declares
//     bulkId x has run, wherever that POST sits in the list (forward
//     references work). Among the operations that are ready, the earliest
//     in the request runs first.
//   - A reference is a JSON string that is exactly "bulkId:" followed by
//     the bulkId, anywhere in data, or the id segment of path
//     ("/Groups/bulkId:x"). It is replaced by the id of the resource that
//     POST created, read from the "id" of its response body, or failing
//     that from the last segment of its Location header.
//   - A reference that cannot be resolved fails that operation with 409
//     and scimType invalidValue without running it: a bulkId that no POST
//     in the request declares, a POST that failed, or a circular chain of
//     references (a POST referring to itself included). RFC 7644 §3.7.1
//     lets a service provider answer 409 to a circular reference instead of
//     breaking the cycle; detecting it costs one pass over the operations
//     and never waits.
//   - bulkId must be unique within the request; a repeated one fails that
//     operation with 400 invalidValue, and references go to the first.
//   - failOnErrors counts every operation answered with a status of 400 or
//     more, including those failed here; when the count reaches it, no
//     further operation runs and the response lists only those that did. It
//     must be at least 1.
//   - Operations in the response are in request order, whatever order they
//     ran in.
//   - A sub-request carries the outer request's context and headers,
//     except the body, content and conditional headers; version becomes
//     If-Match for PUT, PATCH and DELETE. Accept-Encoding is dropped so
//     the response can be read.
//   - location is the sub-response's Location header, else the
//     meta.location of its body, else built from the outer request's host,
//     basePath, the resource type and the id. version is its ETag.
//   - An operation's path must be "/Users" or "/Groups" for POST and
//     "/Users/{id}" or "/Groups/{id}" otherwise; anything else, /Bulk
//     included, fails that operation with 400 invalidPath.
package bulk

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// Defaults used when a Config field is zero or negative.
const (
	// DefaultMaxOperations is the number of operations allowed in one
	// request when Config.MaxOperations is not set.
	DefaultMaxOperations = 1000
	// DefaultMaxPayloadSize is the request body limit in bytes when
	// Config.MaxPayloadSize is not set.
	DefaultMaxPayloadSize = 1 << 20
)

const (
	requestSchema  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	responseSchema = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	errorSchema    = "urn:ietf:params:scim:api:messages:2.0:Error"
	contentType    = "application/scim+json"
	refPrefix      = "bulkId:"

	// maxCapture bounds how much of a sub-response body is kept. Only the
	// id of a created resource and error bodies are read from it; when a
	// body is longer the id comes from the Location header.
	maxCapture = 1 << 20
)

// SCIM error types used in this package (RFC 7644 §3.12).
const (
	scimInvalidSyntax = "invalidSyntax"
	scimInvalidValue  = "invalidValue"
	scimInvalidPath   = "invalidPath"
)

// Config bounds the /Bulk endpoint. Both limits are advertised in the
// ServiceProviderConfig and enforced with 413 Payload Too Large (RFC 7644
// §3.7.4).
type Config struct {
	// MaxOperations is the largest number of operations one request may
	// hold, advertised as bulk.maxOperations. Zero or less means
	// DefaultMaxOperations.
	MaxOperations int
	// MaxPayloadSize is the largest request body in bytes, advertised as
	// bulk.maxPayloadSize. At most this many bytes (plus one, to detect the
	// excess) are ever read. Zero or less means DefaultMaxPayloadSize.
	MaxPayloadSize int64
}

// Handler serves POST /Bulk by dispatching each operation to inner, the
// server's own handler for the resource endpoints, as an internal request:
// the same context, the same Authorization and other headers as the outer
// request, the operation's method, basePath joined with its path, and its
// data as the body. basePath is the prefix under which inner expects
// paths, for example "/scim/v2"; a trailing slash is ignored.
//
// The answer is 200 with a BulkResponse whenever the request itself is
// well formed, whatever its operations' outcomes; 400 invalidSyntax for a
// malformed request; 413 when the body or the number of operations is
// over the limit; 405 for a method other than POST. Inner must not route
// back to this handler: a /Bulk operation is refused before it reaches
// inner, but an inner handler that serves /Bulk under another path would
// recurse.
func Handler(inner http.Handler, basePath string, cfg Config) http.Handler {
	if cfg.MaxOperations <= 0 {
		cfg.MaxOperations = DefaultMaxOperations
	}
	if cfg.MaxPayloadSize <= 0 {
		cfg.MaxPayloadSize = DefaultMaxPayloadSize
	}
	return &handler{inner: inner, base: strings.TrimRight(basePath, "/"), cfg: cfg}
}

type handler struct {
	inner http.Handler
	base  string
	cfg   Config
}

// request is a BulkRequest as decoded. Field names match case-insensitively,
// as encoding/json does.
type request struct {
	Schemas      []string    `json:"schemas"`
	FailOnErrors *int        `json:"failOnErrors"`
	Operations   []operation `json:"Operations"`
}

type operation struct {
	Method  string          `json:"method"`
	BulkID  *string         `json:"bulkId"`
	Version string          `json:"version"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data"`
}

// result is one entry of the BulkResponse.
type result struct {
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Location string          `json:"location,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

type response struct {
	Schemas    []string `json:"schemas"`
	Operations []result `json:"Operations"`
}

// scimError is a SCIM error body (RFC 7644 §3.12), status as a string.
type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "", "the Bulk endpoint accepts only POST")
		return
	}
	limit := h.cfg.MaxPayloadSize
	tooLarge := fmt.Sprintf("the bulk request is larger than maxPayloadSize (%d bytes)", limit)
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "", tooLarge)
		return
	}
	readLimit := limit
	if readLimit < math.MaxInt64 {
		readLimit++
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, readLimit))
	if err != nil {
		writeError(w, http.StatusBadRequest, scimInvalidSyntax, "the bulk request body could not be read")
		return
	}
	if int64(len(body)) > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "", tooLarge)
		return
	}

	req, detail := parse(body)
	if detail != "" {
		writeError(w, http.StatusBadRequest, scimInvalidSyntax, detail)
		return
	}
	if len(req.Operations) > h.cfg.MaxOperations {
		writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf(
			"the bulk request has %d operations, more than maxOperations (%d)",
			len(req.Operations), h.cfg.MaxOperations))
		return
	}
	failOnErrors := 0
	if req.FailOnErrors != nil {
		if *req.FailOnErrors < 1 {
			writeError(w, http.StatusBadRequest, scimInvalidValue, "failOnErrors must be at least 1")
			return
		}
		failOnErrors = *req.FailOnErrors
	}

	results := h.run(r, req.Operations, failOnErrors)
	out, err := json.Marshal(response{Schemas: []string{responseSchema}, Operations: results})
	if err != nil {
		// Every embedded body was checked to be JSON; this cannot happen.
		writeError(w, http.StatusInternalServerError, "", "the bulk response could not be encoded")
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// parse decodes a BulkRequest and checks its envelope. It returns a detail
// for a 400 invalidSyntax, never quoting the body.
func parse(body []byte) (request, string) {
	var req request
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return request{}, fmt.Sprintf("the bulk request has a value of the wrong type at %s", te.Field)
		}
		return request{}, "the bulk request body is not a valid JSON object"
	}
	if _, err := dec.Token(); err != io.EOF {
		return request{}, "the bulk request body has data after the JSON object"
	}
	if len(req.Schemas) != 1 || req.Schemas[0] != requestSchema {
		return request{}, "schemas must be [\"" + requestSchema + "\"]"
	}
	if req.Operations == nil {
		return request{}, "the bulk request has no Operations"
	}
	return req, ""
}

// plan is an operation checked and ready to run.
type plan struct {
	method   string // upper case
	bulkID   string
	version  string
	resource string // "Users" or "Groups"
	idSeg    string // the id, or a "bulkId:" reference; "" for a collection
	data     any    // decoded data, for POST, PUT and PATCH
	raw      []byte // data as sent
	refs     []string
	fail     *outcome // set when the operation fails before running
}

// outcome is a failure decided here rather than by inner.
type outcome struct {
	status   int
	scimType string
	detail   string
}

// run executes the operations and returns their results in request order,
// leaving out those that did not run because failOnErrors was reached or
// the client went away.
func (h *handler) run(r *http.Request, ops []operation, failOnErrors int) []result {
	n := len(ops)
	plans := make([]plan, n)
	declared := make(map[string]int) // bulkId -> index of the POST that declares it
	seen := make(map[string]bool)
	for i, op := range ops {
		plans[i] = prepare(op)
		p := &plans[i]
		if p.bulkID == "" {
			continue
		}
		if seen[p.bulkID] {
			if p.fail == nil {
				p.fail = &outcome{http.StatusBadRequest, scimInvalidValue, "bulkId " + p.bulkID + " is used by an earlier operation"}
			}
			continue
		}
		seen[p.bulkID] = true
		if p.method == http.MethodPost {
			declared[p.bulkID] = i
		}
	}

	// Dependencies: operation i waits for every POST it refers to.
	dependents := make([][]int, n)
	waiting := make([]int, n)
	for i := range plans {
		p := &plans[i]
		if p.fail != nil {
			continue
		}
		for _, ref := range p.refs {
			j, ok := declared[ref]
			switch {
			case !ok:
				p.fail = &outcome{http.StatusConflict, scimInvalidValue, "bulkId " + ref + " is not declared by any POST in this request"}
			case j == i:
				p.fail = &outcome{http.StatusConflict, scimInvalidValue, "the operation refers to its own bulkId " + ref}
			}
			if p.fail != nil {
				break
			}
		}
		if p.fail != nil {
			continue
		}
		for _, ref := range p.refs {
			j := declared[ref]
			dependents[j] = append(dependents[j], i)
			waiting[i]++
		}
	}

	ready := &indexHeap{}
	for i := range plans {
		if waiting[i] == 0 {
			heap.Push(ready, i)
		}
	}
	results := make([]*result, n)
	ids := make(map[string]string) // bulkId -> id of the created resource
	errCount := 0
	stopped := false
	record := func(i int, res result) {
		results[i] = &res
		if code, _ := strconv.Atoi(res.Status); code >= 400 {
			errCount++
		}
		if failOnErrors > 0 && errCount >= failOnErrors {
			stopped = true
		}
	}
	for ready.Len() > 0 && !stopped {
		if r.Context().Err() != nil {
			stopped = true
			break
		}
		i := heap.Pop(ready).(int)
		record(i, h.execute(r, &plans[i], ids))
		for _, k := range dependents[i] {
			if waiting[k]--; waiting[k] == 0 {
				heap.Push(ready, k)
			}
		}
	}
	// Whatever never became ready is on a cycle of references, or waits
	// for one.
	for i := range plans {
		if stopped {
			break
		}
		if results[i] == nil {
			p := &plans[i]
			record(i, failed(p, outcome{http.StatusConflict, scimInvalidValue,
				"the operation's bulkId references are circular or wait for a circular reference"}))
		}
	}

	out := make([]result, 0, n)
	for _, res := range results {
		if res != nil {
			out = append(out, *res)
		}
	}
	return out
}

// prepare checks one operation and finds its bulkId references.
func prepare(op operation) plan {
	p := plan{method: strings.ToUpper(op.Method), version: op.Version}
	if op.BulkID != nil {
		p.bulkID = *op.BulkID
	}
	fail := func(status int, scimType, detail string) plan {
		p.fail = &outcome{status, scimType, detail}
		return p
	}
	switch p.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return fail(http.StatusBadRequest, scimInvalidSyntax, "method must be POST, PUT, PATCH or DELETE")
	}
	if p.method == http.MethodPost && p.bulkID == "" {
		return fail(http.StatusBadRequest, scimInvalidSyntax, "a POST operation needs a bulkId")
	}
	resource, idSeg, detail := splitPath(op.Path)
	if detail != "" {
		return fail(http.StatusBadRequest, scimInvalidPath, detail)
	}
	switch {
	case p.method == http.MethodPost && idSeg != "":
		return fail(http.StatusBadRequest, scimInvalidPath, "the path of a POST must be /Users or /Groups")
	case p.method != http.MethodPost && idSeg == "":
		return fail(http.StatusBadRequest, scimInvalidPath, "the path of a "+p.method+" must name a resource, as in /Users/{id}")
	}
	p.resource, p.idSeg = resource, idSeg
	if ref, ok := strings.CutPrefix(idSeg, refPrefix); ok {
		p.refs = append(p.refs, ref)
	}

	if p.method != http.MethodDelete {
		dec := json.NewDecoder(bytes.NewReader(op.Data))
		dec.UseNumber()
		var data any
		if err := dec.Decode(&data); err != nil {
			return fail(http.StatusBadRequest, scimInvalidSyntax, "data must be a JSON object")
		}
		if _, ok := data.(map[string]any); !ok {
			return fail(http.StatusBadRequest, scimInvalidSyntax, "data must be a JSON object")
		}
		p.data, p.raw = data, op.Data
		collectRefs(data, &p.refs)
	}
	return p
}

// splitPath checks an operation path and returns its resource type and id
// segment (still escaped if it is a bulkId reference, unescaped otherwise).
func splitPath(p string) (resource, id, detail string) {
	if !strings.HasPrefix(p, "/") {
		return "", "", "path must start with /, as in /Users"
	}
	if strings.ContainsAny(p, "?#") {
		return "", "", "path must not have a query or a fragment"
	}
	segs := strings.Split(p[1:], "/")
	switch segs[0] {
	case "Users", "Groups":
	case "Bulk":
		return "", "", "a bulk request cannot contain a Bulk operation"
	default:
		return "", "", "path must be under /Users or /Groups"
	}
	switch len(segs) {
	case 1:
		return segs[0], "", ""
	case 2:
	default:
		return "", "", "path has more segments than /{resource type}/{id}"
	}
	seg := segs[1]
	if strings.HasPrefix(seg, refPrefix) {
		return segs[0], seg, ""
	}
	id, err := url.PathUnescape(seg)
	if err != nil || !validID(id) {
		return "", "", "path has an invalid resource id"
	}
	return segs[0], id, ""
}

// validID refuses ids that would change the path they are put in.
func validID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsAny(id, "/?#")
}

// collectRefs appends the bulkIds that strings in v refer to, once each.
func collectRefs(v any, refs *[]string) {
	switch t := v.(type) {
	case string:
		if ref, ok := strings.CutPrefix(t, refPrefix); ok {
			for _, r := range *refs {
				if r == ref {
					return
				}
			}
			*refs = append(*refs, ref)
		}
	case []any:
		for _, e := range t {
			collectRefs(e, refs)
		}
	case map[string]any:
		for _, e := range t {
			collectRefs(e, refs)
		}
	}
}

// substitute returns v with every reference replaced by its id. It builds
// new containers rather than changing v.
func substitute(v any, ids map[string]string) any {
	switch t := v.(type) {
	case string:
		if ref, ok := strings.CutPrefix(t, refPrefix); ok {
			if id, ok := ids[ref]; ok {
				return id
			}
		}
		return t
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = substitute(e, ids)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = substitute(e, ids)
		}
		return out
	default:
		return v
	}
}

// failed is the result of an operation that did not reach inner.
func failed(p *plan, o outcome) result {
	return result{
		Method:   p.method,
		BulkID:   p.bulkID,
		Status:   strconv.Itoa(o.status),
		Response: errorBody(o.status, o.scimType, o.detail),
	}
}

// execute runs one operation against inner.
func (h *handler) execute(outer *http.Request, p *plan, ids map[string]string) result {
	if p.fail != nil {
		return failed(p, *p.fail)
	}
	for _, ref := range p.refs {
		if _, ok := ids[ref]; !ok {
			return failed(p, outcome{http.StatusConflict, scimInvalidValue,
				"bulkId " + ref + " cannot be resolved: the operation that declares it failed or returned no id"})
		}
	}

	id := p.idSeg
	if ref, ok := strings.CutPrefix(id, refPrefix); ok {
		id = ids[ref]
	}
	target := h.base + "/" + p.resource
	if id != "" {
		target += "/" + id
	}

	var body []byte
	if p.method != http.MethodDelete {
		body = p.raw
		if len(p.refs) > 0 {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(substitute(p.data, ids)); err != nil {
				return failed(p, outcome{http.StatusBadRequest, scimInvalidSyntax, "data could not be re-encoded"})
			}
			body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		}
	}

	sub, err := http.NewRequestWithContext(outer.Context(), p.method, (&url.URL{Path: target}).String(), bytes.NewReader(body))
	if err != nil {
		return failed(p, outcome{http.StatusBadRequest, scimInvalidPath, "the operation's path cannot be requested"})
	}
	sub.Header = subHeader(outer.Header)
	if p.method != http.MethodDelete {
		sub.Header.Set("Content-Type", contentType)
	} else {
		sub.Body, sub.ContentLength = http.NoBody, 0
	}
	if p.version != "" && p.method != http.MethodPost {
		sub.Header.Set("If-Match", p.version)
	}
	sub.Host = outer.Host
	sub.RemoteAddr = outer.RemoteAddr
	sub.TLS = outer.TLS
	sub.Proto, sub.ProtoMajor, sub.ProtoMinor = outer.Proto, outer.ProtoMajor, outer.ProtoMinor
	sub.RequestURI = sub.URL.RequestURI()

	rec := newRecorder()
	h.inner.ServeHTTP(rec, sub)
	status := rec.statusCode()
	hdr := rec.finalHeader()

	res := result{
		Method:  p.method,
		BulkID:  p.bulkID,
		Status:  strconv.Itoa(status),
		Version: hdr.Get("ETag"),
	}
	success := status >= 200 && status < 300
	var doc map[string]any
	if !rec.truncated {
		dec := json.NewDecoder(bytes.NewReader(rec.body.Bytes()))
		dec.UseNumber()
		_ = dec.Decode(&doc)
	}

	if p.method == http.MethodPost && success {
		id = createdID(doc, hdr.Get("Location"))
		if id != "" {
			ids[p.bulkID] = id
		}
	}

	res.Location = hdr.Get("Location")
	if res.Location == "" && success {
		if meta, ok := doc["meta"].(map[string]any); ok {
			res.Location, _ = meta["location"].(string)
		}
	}
	if res.Location == "" && id != "" {
		res.Location = h.location(outer, p.resource, id)
	}

	if status >= 400 {
		res.Response = subErrorBody(status, rec)
	}
	return res
}

// createdID finds the id of a created resource: the body's "id", else the
// last segment of the Location header.
func createdID(doc map[string]any, location string) string {
	if id, ok := doc["id"].(string); ok && validID(id) {
		return id
	}
	if location == "" {
		return ""
	}
	u, err := url.Parse(location)
	if err != nil {
		return ""
	}
	id := path.Base(u.Path)
	if !validID(id) {
		return ""
	}
	return id
}

// location builds the URL of a resource from the outer request, for a
// sub-response that gave none.
func (h *handler) location(outer *http.Request, resource, id string) string {
	u := url.URL{Path: h.base + "/" + resource + "/" + id}
	if outer.Host != "" {
		u.Host = outer.Host
		u.Scheme = "http"
		if outer.TLS != nil {
			u.Scheme = "https"
		}
	}
	return u.String()
}

// subHeader copies the outer request's headers for a sub-request, without
// those that describe the outer body or make the outer request
// conditional, and without Accept-Encoding so the response is not
// compressed.
func subHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for _, k := range []string{
		"Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding", "Expect",
		"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range",
		"Accept-Encoding",
	} {
		out.Del(k)
	}
	return out
}

// subErrorBody returns the error body inner wrote if it is a SCIM error,
// and a plain one for the status otherwise.
func subErrorBody(status int, rec *recorder) json.RawMessage {
	if !rec.truncated {
		var probe struct {
			Schemas []string `json:"schemas"`
		}
		b := bytes.TrimSpace(rec.body.Bytes())
		if len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &probe) == nil {
			for _, s := range probe.Schemas {
				if s == errorSchema {
					var buf bytes.Buffer
					if json.Compact(&buf, b) == nil {
						return buf.Bytes()
					}
				}
			}
		}
	}
	detail := http.StatusText(status)
	if detail == "" {
		detail = "the operation failed"
	}
	return errorBody(status, "", detail)
}

func errorBody(status int, scimType, detail string) json.RawMessage {
	b, err := json.Marshal(scimError{
		Schemas:  []string{errorSchema},
		Status:   strconv.Itoa(status),
		ScimType: scimType,
		Detail:   detail,
	})
	if err != nil {
		// A struct of strings always encodes.
		return json.RawMessage(`{"schemas":["` + errorSchema + `"]}`)
	}
	return b
}

func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(status, scimType, detail))
}

// recorder is the ResponseWriter a sub-request writes to.
type recorder struct {
	header    http.Header
	sent      http.Header // header as it was when the status was written
	status    int
	body      bytes.Buffer
	truncated bool
}

func newRecorder() *recorder {
	return &recorder{header: http.Header{}}
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status != 0 || code < 200 {
		// Informational answers (1xx) are not the response.
		return
	}
	if code > 999 {
		code = http.StatusInternalServerError
	}
	r.status = code
	r.sent = r.header.Clone()
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	room := maxCapture - r.body.Len()
	if len(b) > room {
		r.body.Write(b[:max(room, 0)])
		r.truncated = true
	} else {
		r.body.Write(b)
	}
	return len(b), nil
}

func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

func (r *recorder) finalHeader() http.Header {
	if r.sent != nil {
		return r.sent
	}
	return r.header
}

// indexHeap orders ready operations by their position in the request.
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
