package scimtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeQuirks each switch on one deviation from the RFCs.
type fakeQuirks struct {
	noAuth              bool // every request is accepted without a token
	createNoLocation    bool // create answers 200 and no Location header
	statusAsNumber      bool // error bodies carry status as a JSON number
	ignoreIfMatch       bool // If-Match is not evaluated
	nonAtomicPatch      bool // operations before a failing one stay applied
	caseSensitiveNames  bool // userName uniqueness and filters respect case
	dropUnknownMembers  bool // unknown member ids are silently dropped
	keepOtherPrimary    bool // setting primary does not clear the others
	returnPassword      bool // the password is echoed back
	noPatch             bool // patch.supported is false and PATCH is 501
	ignoreFailOnErrors  bool // bulk runs every operation whatever the errors
	filterIgnoresCase   bool // externalId compares case-insensitively
	putKeepsOmitted     bool // PUT merges instead of replacing
	stringDateCompare   bool // dateTimes compare as strings
	noMaxOperationCheck bool // bulk accepts any number of operations
}

// fakeRes is one stored resource.
type fakeRes struct {
	id                string
	attrs             obj
	version           int
	created, modified time.Time
	seq               int
}

// fakeSCIM is an in-memory SCIM service provider for the suite's own tests.
type fakeSCIM struct {
	token  string
	base   string
	quirks fakeQuirks

	mu    sync.Mutex
	seq   int
	data  map[*fakeType]map[string]*fakeRes
	clock time.Time
}

const (
	fakeMaxBody    = 1 << 20
	fakeMaxOps     = 10
	fakeMaxPayload = 256 << 10
	fakeMaxResults = 100
)

// startFake serves a fake with quirks on an httptest server and returns
// the suite's config for it.
func startFake(t *testing.T, quirks fakeQuirks) (*fakeSCIM, Config) {
	t.Helper()
	f := &fakeSCIM{
		token:  "scimtest-token",
		quirks: quirks,
		data:   map[*fakeType]map[string]*fakeRes{userType: {}, groupType: {}},
		clock:  time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC),
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.base = srv.URL + "/scim/v2"
	return f, Config{BaseURL: f.base, Token: f.token, Client: srv.Client()}
}

// now returns a strictly increasing time, a millisecond per call, so that
// creation order shows in lastModified.
func (f *fakeSCIM) now() time.Time {
	f.clock = f.clock.Add(time.Millisecond)
	return f.clock
}

func (f *fakeSCIM) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeSCIM) writeError(w http.ResponseWriter, status int, scimType, detail string) {
	body := obj{"schemas": []any{urnError}, "status": strconv.Itoa(status), "detail": detail}
	if f.quirks.statusAsNumber {
		body["status"] = status
	}
	if scimType != "" {
		body["scimType"] = scimType
	}
	f.writeJSON(w, status, body)
}

func (f *fakeSCIM) fail(w http.ResponseWriter, err error) {
	var bv *badValue
	if errors.As(err, &bv) {
		f.writeError(w, bv.status, bv.scimType, bv.detail)
		return
	}
	f.writeError(w, http.StatusInternalServerError, "", "internal error")
}

func (f *fakeSCIM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/scim/v2")
	if !ok {
		f.writeError(w, http.StatusNotFound, "", "not found")
		return
	}
	if !f.quirks.noAuth && r.Header.Get("Authorization") != "Bearer "+f.token {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
		f.writeError(w, http.StatusUnauthorized, "", "authentication required")
		return
	}
	f.route(w, r, path)
}

// route dispatches one request, also each operation of a bulk request.
func (f *fakeSCIM) route(w http.ResponseWriter, r *http.Request, path string) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	only := func(methods ...string) bool {
		if slices.Contains(methods, r.Method) {
			return true
		}
		f.writeError(w, http.StatusMethodNotAllowed, "", "method not allowed")
		return false
	}
	switch {
	case len(seg) == 1 && seg[0] == "ServiceProviderConfig":
		if only(http.MethodGet) {
			f.writeJSON(w, 200, f.spc())
		}
	case seg[0] == "ResourceTypes" && len(seg) <= 2:
		if only(http.MethodGet) {
			f.resourceTypes(w, seg[1:])
		}
	case seg[0] == "Schemas" && len(seg) <= 2:
		if only(http.MethodGet) {
			f.schemas(w, seg[1:])
		}
	case len(seg) == 1 && seg[0] == "Bulk":
		if only(http.MethodPost) {
			f.bulk(w, r)
		}
	case (seg[0] == "Users" || seg[0] == "Groups") && len(seg) <= 2:
		t := userType
		if seg[0] == "Groups" {
			t = groupType
		}
		body, err := readBody(w, r, fakeMaxBody)
		if err != nil {
			f.fail(w, err)
			return
		}
		switch {
		case len(seg) == 1:
			if only(http.MethodGet, http.MethodPost) {
				if r.Method == http.MethodGet {
					f.list(w, t, r.URL.Query().Get("filter"), r.URL.Query())
				} else {
					f.create(w, r, t, body)
				}
			}
		case seg[1] == ".search":
			if only(http.MethodPost) {
				f.search(w, t, body)
			}
		default:
			f.resource(w, r, t, seg[1], body)
		}
	default:
		f.writeError(w, http.StatusNotFound, "", "no such endpoint")
	}
}

// readBody reads at most limit bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &badValue{status: http.StatusRequestEntityTooLarge, detail: "request body too large"}
	}
	return data, err
}

// decode parses a JSON object body.
func decode(body []byte) (obj, error) {
	var o obj
	if err := json.Unmarshal(body, &o); err != nil || o == nil {
		return nil, invalid("invalidSyntax", "body is not a JSON object")
	}
	return o, nil
}

func (f *fakeSCIM) spc() obj {
	sup := func(b bool) obj { return obj{"supported": b} }
	return obj{
		"schemas":               []any{urnSPC},
		"patch":                 sup(!f.quirks.noPatch),
		"bulk":                  obj{"supported": true, "maxOperations": fakeMaxOps, "maxPayloadSize": fakeMaxPayload},
		"filter":                obj{"supported": true, "maxResults": fakeMaxResults},
		"changePassword":        sup(true),
		"sort":                  sup(true),
		"etag":                  sup(true),
		"authenticationSchemes": []any{obj{"type": "oauthbearertoken", "name": "Bearer token", "description": "A bearer token"}},
	}
}

func typeJSON(t *fakeType) obj {
	o := obj{"schemas": []any{urnResourceType}, "id": t.name, "name": t.name, "endpoint": t.endpoint, "schema": t.schema}
	if t.ext != nil {
		o["schemaExtensions"] = []any{obj{"schema": urnEnterprise, "required": false}}
	}
	return o
}

func listJSON(res []any) obj {
	return obj{"schemas": []any{urnList}, "totalResults": len(res), "itemsPerPage": len(res), "startIndex": 1, "Resources": res}
}

func (f *fakeSCIM) resourceTypes(w http.ResponseWriter, id []string) {
	if len(id) == 0 {
		f.writeJSON(w, 200, listJSON([]any{typeJSON(userType), typeJSON(groupType)}))
		return
	}
	for _, t := range []*fakeType{userType, groupType} {
		if t.name == id[0] {
			f.writeJSON(w, 200, typeJSON(t))
			return
		}
	}
	f.writeError(w, 404, "", "no such resource type")
}

func schemaJSON(id string, defs []*fakeAttr) obj {
	l := make([]any, len(defs))
	for i, d := range defs {
		l[i] = d.definition()
	}
	return obj{"schemas": []any{urnSchema}, "id": id, "name": id, "attributes": l}
}

func (f *fakeSCIM) schemas(w http.ResponseWriter, id []string) {
	all := []obj{schemaJSON(urnUser, userAttrs), schemaJSON(urnGroup, groupAttrs), schemaJSON(urnEnterprise, enterpriseAttrs)}
	if len(id) == 0 {
		l := make([]any, len(all))
		for i, s := range all {
			l[i] = s
		}
		f.writeJSON(w, 200, listJSON(l))
		return
	}
	for _, s := range all {
		if s["id"] == id[0] {
			f.writeJSON(w, 200, s)
			return
		}
	}
	f.writeError(w, 404, "", "no such schema")
}

// version renders a resource's ETag (RFC 7644 §3.14).
func version(res *fakeRes) string { return fmt.Sprintf(`W/"%d"`, res.version) }

// render returns the full representation of res.
func (f *fakeSCIM) render(t *fakeType, res *fakeRes) obj {
	out := deepCopy(res.attrs).(obj)
	if !f.quirks.returnPassword {
		delete(out, "password")
	}
	out["id"] = res.id
	schemas := []any{t.schema}
	if _, ok := out[urnEnterprise]; ok {
		schemas = append(schemas, urnEnterprise)
	}
	out["schemas"] = schemas
	out["meta"] = obj{
		"resourceType": t.name,
		"created":      res.created.Format(time.RFC3339Nano),
		"lastModified": res.modified.Format(time.RFC3339Nano),
		"location":     f.base + t.endpoint + "/" + res.id,
		"version":      version(res),
	}
	if t == groupType {
		for _, m := range list(out, "members") {
			m := m.(obj)
			id := str(m, "value")
			u := f.data[userType][id]
			m["$ref"] = f.base + "/Users/" + id
			m["type"] = "User"
			if u != nil {
				m["display"] = str(u.attrs, "userName")
				if d := str(u.attrs, "displayName"); d != "" {
					m["display"] = d
				}
			}
		}
	}
	return out
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case obj:
		o := make(obj, len(v))
		for k, e := range v {
			o[k] = deepCopy(e)
		}
		return o
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// project applies attributes / excludedAttributes (RFC 7644 §3.4.2.5) to
// a rendered resource; id and schemas always stay.
func project(o obj, attributes, excluded string) obj {
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, strings.ToLower(p))
			}
		}
		return out
	}
	if attrs := split(attributes); len(attrs) > 0 {
		out := obj{"id": o["id"], "schemas": o["schemas"]}
		for k, v := range o {
			for _, a := range attrs {
				top, sub, _ := strings.Cut(a, ".")
				if strings.ToLower(k) != top {
					continue
				}
				if m, ok := v.(obj); ok && sub != "" {
					if sv := lookup(m, sub); sv != nil {
						keep, _ := out[k].(obj)
						if keep == nil {
							keep = obj{}
						}
						keep[sub] = sv
						out[k] = keep
					}
				} else {
					out[k] = v
				}
			}
		}
		return out
	}
	for _, e := range split(excluded) {
		for k := range o {
			if strings.ToLower(k) == e && k != "id" && k != "schemas" {
				delete(o, k)
			}
		}
	}
	return o
}

// check validates attrs for t before a write by res (nil for a create).
func (f *fakeSCIM) check(t *fakeType, attrs obj, res *fakeRes) error {
	if t == userType {
		name, _ := attrs["userName"].(string)
		if name == "" {
			return invalid("invalidValue", "userName is required")
		}
		for _, other := range f.data[userType] {
			o := str(other.attrs, "userName")
			same := strings.EqualFold(o, name)
			if f.quirks.caseSensitiveNames {
				same = o == name
			}
			if other != res && same {
				return &badValue{status: 409, scimType: "uniqueness", detail: "userName is taken"}
			}
		}
		if ext, ok := attrs[urnEnterprise].(obj); ok && len(ext) == 0 {
			delete(attrs, urnEnterprise)
		}
		return nil
	}
	name, _ := attrs["displayName"].(string)
	if name == "" {
		return invalid("invalidValue", "displayName is required")
	}
	for _, other := range f.data[groupType] {
		if other != res && strings.EqualFold(str(other.attrs, "displayName"), name) {
			return &badValue{status: 409, scimType: "uniqueness", detail: "displayName is taken"}
		}
	}
	var kept []any
	seen := map[string]bool{}
	for _, m := range list(attrs, "members") {
		id := str(m, "value")
		if f.data[userType][id] == nil {
			if f.quirks.dropUnknownMembers {
				continue
			}
			return invalid("invalidValue", "member %q is not a user", id)
		}
		if !seen[id] {
			seen[id] = true
			kept = append(kept, obj{"value": id})
		}
	}
	if kept == nil {
		delete(attrs, "members")
	} else {
		attrs["members"] = kept
	}
	return nil
}

// input normalizes a request body into attributes of t.
func input(t *fakeType, body obj) (obj, error) {
	attrs, err := normalize(append(append([]*fakeAttr{}, t.attrs...), commonAttrs...), body)
	if err != nil {
		return nil, err
	}
	if t.ext != nil {
		for k, v := range body {
			if strings.EqualFold(k, urnEnterprise) {
				m, ok := v.(obj)
				if !ok {
					return nil, invalid("invalidValue", "the enterprise extension must be an object")
				}
				ext, err := normalize(t.ext, m)
				if err != nil {
					return nil, err
				}
				attrs[urnEnterprise] = ext
			}
		}
	}
	return attrs, nil
}

func (f *fakeSCIM) create(w http.ResponseWriter, r *http.Request, t *fakeType, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, err := decode(data)
	if err != nil {
		f.fail(w, err)
		return
	}
	attrs, err := input(t, body)
	if err == nil {
		err = f.check(t, attrs, nil)
	}
	if err != nil {
		f.fail(w, err)
		return
	}
	f.seq++
	now := f.now()
	res := &fakeRes{id: fmt.Sprintf("%08d-fake", f.seq), attrs: attrs, version: 1, created: now, modified: now, seq: f.seq}
	f.data[t][res.id] = res
	out := f.render(t, res)
	w.Header().Set("ETag", version(res))
	if f.quirks.createNoLocation {
		f.writeJSON(w, http.StatusOK, out)
		return
	}
	w.Header().Set("Location", str(out, "meta", "location"))
	f.writeJSON(w, http.StatusCreated, project(out, r.URL.Query().Get("attributes"), r.URL.Query().Get("excludedAttributes")))
}

// precondition evaluates If-Match against res.
func (f *fakeSCIM) precondition(r *http.Request, res *fakeRes) error {
	m := r.Header.Get("If-Match")
	if f.quirks.ignoreIfMatch || m == "" || m == "*" || m == version(res) {
		return nil
	}
	return &badValue{status: http.StatusPreconditionFailed, detail: "version mismatch"}
}

func (f *fakeSCIM) resource(w http.ResponseWriter, r *http.Request, t *fakeType, id string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := f.data[t][id]
	if res == nil {
		if r.Method == http.MethodPatch && f.quirks.noPatch {
			f.writeError(w, http.StatusNotImplemented, "", "PATCH is not supported")
			return
		}
		f.writeError(w, http.StatusNotFound, "", "no such resource")
		return
	}
	q := r.URL.Query()
	respond := func(status int) {
		w.Header().Set("ETag", version(res))
		f.writeJSON(w, status, project(f.render(t, res), q.Get("attributes"), q.Get("excludedAttributes")))
	}
	if err := f.precondition(r, res); err != nil {
		f.fail(w, err)
		return
	}
	switch r.Method {
	case http.MethodGet:
		if inm := r.Header.Get("If-None-Match"); inm != "" && inm == version(res) {
			w.Header().Set("ETag", version(res))
			w.WriteHeader(http.StatusNotModified)
			return
		}
		respond(200)
	case http.MethodDelete:
		delete(f.data[t], id)
		for _, g := range f.data[groupType] {
			if ms := list(g.attrs, "members"); ms != nil {
				g.attrs["members"] = slices.DeleteFunc(ms, func(m any) bool { return str(m, "value") == id })
			}
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		body, err := decode(data)
		if err != nil {
			f.fail(w, err)
			return
		}
		attrs, err := input(t, body)
		if err != nil {
			f.fail(w, err)
			return
		}
		if f.quirks.putKeepsOmitted {
			merged := deepCopy(res.attrs).(obj)
			for k, v := range attrs {
				merged[k] = v
			}
			attrs = merged
		}
		if err := f.check(t, attrs, res); err != nil {
			f.fail(w, err)
			return
		}
		f.commit(res, attrs)
		respond(200)
	case http.MethodPatch:
		if f.quirks.noPatch {
			f.writeError(w, http.StatusNotImplemented, "", "PATCH is not supported")
			return
		}
		body, err := decode(data)
		if err != nil {
			f.fail(w, err)
			return
		}
		attrs, err := f.applyPatch(t, res, body)
		if err != nil {
			f.fail(w, err)
			return
		}
		f.commit(res, attrs)
		respond(200)
	default:
		f.writeError(w, http.StatusMethodNotAllowed, "", "method not allowed")
	}
}

func (f *fakeSCIM) commit(res *fakeRes, attrs obj) {
	res.attrs = attrs
	res.version++
	res.modified = f.now()
}

func (f *fakeSCIM) list(w http.ResponseWriter, t *fakeType, filter string, q map[string][]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var match fnode
	if filter != "" {
		var err error
		if match, err = parseFilter(f.defs(t), filter); err != nil {
			f.fail(w, err)
			return
		}
	}
	var all []*fakeRes
	for _, res := range f.data[t] {
		all = append(all, res)
	}
	slices.SortFunc(all, func(a, b *fakeRes) int { return a.seq - b.seq })
	var hits []obj
	for _, res := range all {
		o := f.render(t, res)
		if match == nil || match.match(o) {
			hits = append(hits, o)
		}
	}
	if sortBy := get("sortBy"); sortBy != "" {
		path, _, err := resolve(t.all(), sortBy, "invalidValue")
		if err != nil {
			f.fail(w, err)
			return
		}
		key := func(o obj) string {
			if v := values(o, path); len(v) > 0 {
				s, _ := v[0].(string)
				return strings.ToLower(s)
			}
			return ""
		}
		slices.SortStableFunc(hits, func(a, b obj) int { return strings.Compare(key(a), key(b)) })
		if get("sortOrder") == "descending" {
			slices.Reverse(hits)
		}
	}
	start, count := 1, fakeMaxResults
	if s := get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			f.writeError(w, 400, "invalidValue", "bad startIndex")
			return
		}
		start = max(n, 1)
	}
	if s := get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			f.writeError(w, 400, "invalidValue", "bad count")
			return
		}
		count = min(max(n, 0), fakeMaxResults)
	}
	page := []any{}
	for i := start - 1; i < len(hits) && len(page) < count; i++ {
		page = append(page, project(hits[i], get("attributes"), get("excludedAttributes")))
	}
	body := obj{"schemas": []any{urnList}, "totalResults": len(hits), "itemsPerPage": len(page), "startIndex": start}
	if len(page) > 0 {
		body["Resources"] = page
	}
	f.writeJSON(w, 200, body)
}

// defs returns the attributes a filter or PATCH path may name on t, as
// copies bent by the quirks that change comparison.
func (f *fakeSCIM) defs(t *fakeType) []*fakeAttr {
	defs := cloneDefs(t.all())
	if f.quirks.caseSensitiveNames {
		find(defs, "userName").caseExact = true
	}
	if f.quirks.filterIgnoresCase {
		find(defs, "externalId").caseExact = false
	}
	if f.quirks.stringDateCompare {
		for _, d := range find(defs, "meta").sub {
			d.typ = "string"
		}
	}
	return defs
}

func cloneDefs(defs []*fakeAttr) []*fakeAttr {
	out := make([]*fakeAttr, len(defs))
	for i, d := range defs {
		c := *d
		c.sub = cloneDefs(d.sub)
		out[i] = &c
	}
	return out
}

func (f *fakeSCIM) search(w http.ResponseWriter, t *fakeType, data []byte) {
	body, err := decode(data)
	if err != nil {
		f.fail(w, err)
		return
	}
	q := map[string][]string{}
	for _, k := range []string{"sortBy", "sortOrder", "startIndex", "count", "attributes", "excludedAttributes"} {
		switch v := lookup(body, k).(type) {
		case string:
			q[k] = []string{v}
		case float64:
			q[k] = []string{strconv.Itoa(int(v))}
		case []any:
			var parts []string
			for _, p := range v {
				parts = append(parts, fmt.Sprint(p))
			}
			q[k] = []string{strings.Join(parts, ",")}
		}
	}
	f.list(w, t, str(body, "filter"), q)
}

func (f *fakeSCIM) bulk(w http.ResponseWriter, r *http.Request) {
	data, err := readBody(w, r, fakeMaxPayload)
	if err != nil {
		f.fail(w, err)
		return
	}
	body, err := decode(data)
	if err != nil {
		f.fail(w, err)
		return
	}
	ops := list(body, "Operations")
	if len(ops) > fakeMaxOps && !f.quirks.noMaxOperationCheck {
		f.writeError(w, http.StatusRequestEntityTooLarge, "", "too many operations")
		return
	}
	failOn, _ := number(body, "failOnErrors")
	ids := map[string]string{}
	var results []any
	errs := 0
	for _, o := range ops {
		if failOn > 0 && errs >= int(failOn) && !f.quirks.ignoreFailOnErrors {
			break
		}
		method, path := str(o, "method"), str(o, "path")
		raw, _ := json.Marshal(lookup(o, "data"))
		for bid, id := range ids {
			raw = bytes.ReplaceAll(raw, []byte(`"bulkId:`+bid+`"`), []byte(strconv.Quote(id)))
			path = strings.ReplaceAll(path, "bulkId:"+bid, id)
		}
		req := httptest.NewRequestWithContext(r.Context(), method, "/scim/v2"+path, bytes.NewReader(raw))
		rec := httptest.NewRecorder()
		f.route(rec, req, path)
		res := obj{"method": method, "status": strconv.Itoa(rec.Code)}
		if bid := str(o, "bulkId"); bid != "" {
			res["bulkId"] = bid
			var created obj
			if json.Unmarshal(rec.Body.Bytes(), &created) == nil && rec.Code == http.StatusCreated {
				ids[bid] = str(created, "id")
			}
		}
		if loc := rec.Header().Get("Location"); loc != "" {
			res["location"] = loc
		} else if rec.Code < 300 && method != http.MethodPost {
			res["location"] = f.base + path
		}
		if rec.Code >= 400 {
			errs++
			var e obj
			_ = json.Unmarshal(rec.Body.Bytes(), &e)
			res["response"] = e
		}
		results = append(results, res)
	}
	f.writeJSON(w, 200, obj{"schemas": []any{urnBulkResponse}, "Operations": results})
}
