package twentyfake

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/conformance/fakes/faults"
)

// Fake is a running fake of one Twenty workspace. It is safe for
// concurrent use.
type Fake struct {
	// URL is the server's base URL (no trailing slash); GraphQL is served
	// at URL + "/graphql".
	URL string
	// Token is the API key the fake accepts, sent as
	// "Authorization: Bearer <Token>".
	Token string

	srv *httptest.Server

	mu        sync.Mutex
	people    *table
	companies *table
	calls     []string // "query people", "mutation createPerson", ...
	requests  int
	last      time.Time // the last timestamp handed out

	upsertByID bool // createOne's upsert matches the id only

	faults faults.Injector
}

// New starts a fake workspace that accepts token as its API key. Close
// stops it.
func New(token string) *Fake {
	f := &Fake{
		Token:     token,
		people:    &table{object: "Person", rows: map[string]*record{}},
		companies: &table{object: "Company", rows: map[string]*record{}},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f
}

// Close stops the server.
func (f *Fake) Close() { f.srv.Close() }

// Fail answers the next n requests with status, and with a Retry-After
// header when retryAfter is not empty, before they reach the workspace:
// what a proxy or Twenty's rate limiter answers.
func (f *Fake) Fail(n, status int, retryAfter string) {
	f.faults.Fail(n, status, retryAfter)
}

// UpsertByIDOnly makes createPerson and createCompany with upsert: true
// match an existing record by id only, as the createOne resolver of some
// Twenty versions does (repository.upsert with conflictPaths ['id'],
// .../resolvers/graphql-query-create-one-resolver.service.ts), instead of
// by id or unique field as createMany does: without an id the upsert is
// then a plain insert, which fails on a duplicate email.
func (f *Fake) UpsertByIDOnly(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.upsertByID = on
}

// Slow holds every request for d before answering it, until Slow(0). A
// client that gives up first gets no answer.
func (f *Fake) Slow(d time.Duration) {
	f.faults.Slow(d)
}

// Requests is the number of requests the fake has received, failed ones
// included.
func (f *Fake) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Calls lists the root fields the fake has run, in order, as
// "query people" or "mutation createPerson".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// now returns the current time, later than every time handed out before
// at Twenty's millisecond precision, so that createdAt orders records.
func (f *Fake) now() time.Time {
	t := time.Now().UTC().Truncate(time.Millisecond)
	if !t.After(f.last) {
		t = f.last.Add(time.Millisecond)
	}
	f.last = t
	return t
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// graphQLBody is the JSON body of a GraphQL request over HTTP.
type graphQLBody struct {
	Query         string                     `json:"query"`
	Variables     map[string]json.RawMessage `json:"variables"`
	OperationName string                     `json:"operationName"`
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()

	status, ok := f.faults.Take(w, r)
	if !ok {
		return
	}
	if status != 0 {
		writeJSON(w, status, map[string]any{"statusCode": status, "message": http.StatusText(status)})
		return
	}
	// Express answers unknown routes with 404; the GraphQL endpoint takes
	// POST with a JSON body.
	if r.URL.Path != "/graphql" {
		writeJSON(w, http.StatusNotFound, map[string]any{"statusCode": 404, "message": "Cannot " + r.Method + " " + r.URL.Path, "error": "Not Found"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"errors": []*gqlError{newError(codeBadUserInput, "twentyfake: only POST is served")}})
		return
	}

	// Authentication happens before GraphQL runs, and its failure is
	// still a GraphQL answer with status 200:
	// packages/twenty-server/src/engine/middlewares/middleware.service.ts
	// (writeGraphqlResponseOnExceptionCaught). A request without a token
	// is refused (access-token.service.ts, "missing authentication
	// token"); an unknown one is UNAUTHENTICATED
	// (jwt-wrapper.service.ts, "Token invalid.").
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !ok || strings.TrimSpace(token) == "":
		writeJSON(w, http.StatusOK, map[string]any{"errors": []*gqlError{newError(codeForbidden, "missing authentication token")}})
		return
	case token != f.Token:
		writeJSON(w, http.StatusOK, map[string]any{"errors": []*gqlError{newError(codeUnauthenticated, "Token invalid.")}})
		return
	}

	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"errors": []*gqlError{newError(codeBadUserInput, "twentyfake: Content-Type must be application/json, not %q", ct)}})
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var body graphQLBody
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil || body.Query == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []*gqlError{newError(codeBadUserInput, "POST body sent invalid JSON or no query.")}})
		return
	}
	ops, err := parseDocument(body.Query)
	var pe *parseError
	if errors.As(err, &pe) {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []*gqlError{newError(codeParseFailed, "%s", pe.Error()).at(pe.line, pe.col)}})
		return
	}
	req, errs := prepare(ops, body.OperationName, body.Variables)
	if len(errs) > 0 {
		writeJSON(w, http.StatusOK, map[string]any{"errors": errs})
		return
	}
	f.mu.Lock()
	data, errs := f.execute(req)
	f.mu.Unlock()
	resp := orderedObject{{"data", data}}
	if data == nil {
		resp = orderedObject{{"data", nil}}
	}
	if len(errs) > 0 {
		resp = append(resp, kv{"errors", errs})
	}
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"errors":[{"message":"twentyfake: encoding the answer failed","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// MarshalJSON writes the object with its keys in order.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(e.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(e.val)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Person is a person record as the fake stores it.
type Person struct {
	ID                  string
	FirstName, LastName string
	// Email is the primary email, in lower case as Twenty stores it.
	Email string
	// CompanyID is the company the person belongs to, or "".
	CompanyID string
	// JobTitle and City are the text fields jobTitle and city; "" is
	// null, as Twenty stores an empty text.
	JobTitle, City string
	// Deleted is true for a person in Twenty's trash (soft-deleted).
	Deleted   bool
	CreatedAt time.Time
}

// Company is a company record as the fake stores it.
type Company struct {
	ID   string
	Name string
	// Domain is domainName.primaryLinkUrl, unique among companies.
	Domain    string
	Deleted   bool
	CreatedAt time.Time
}

func personOf(r *record) Person {
	return Person{ID: r.id, FirstName: r.firstName, LastName: r.lastName, Email: r.email,
		CompanyID: r.companyID, JobTitle: r.jobTitle, City: r.city, Deleted: r.deletedAt != nil, CreatedAt: r.createdAt}
}

func companyOf(r *record) Company {
	return Company{ID: r.id, Name: r.name, Domain: r.domain, Deleted: r.deletedAt != nil, CreatedAt: r.createdAt}
}

// Person returns the person whose id is id, soft-deleted or not.
func (f *Fake) Person(id string) (Person, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.people.rows[id]
	if !ok {
		return Person{}, false
	}
	return personOf(r), true
}

// People returns every person, soft-deleted ones included, oldest first.
func (f *Fake) People() []Person {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Person, 0, len(f.people.rows))
	for _, r := range f.people.rows {
		out = append(out, personOf(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// AddPerson stores a person the way someone using Twenty would make one,
// under the same rules as the API (a unique primary email, an existing
// company). An empty ID gets a new one; Deleted puts it in the trash. It
// returns the person's id.
func (f *Fake) AddPerson(p Person) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data := map[string]any{
		"name":   map[string]any{"firstName": p.FirstName, "lastName": p.LastName},
		"emails": map[string]any{"primaryEmail": p.Email},
	}
	if p.ID != "" {
		data["id"] = strings.ToLower(p.ID)
	}
	if p.CompanyID != "" {
		data["companyId"] = p.CompanyID
	}
	if p.JobTitle != "" {
		data["jobTitle"] = p.JobTitle
	}
	if p.City != "" {
		data["city"] = p.City
	}
	v, err := f.createOne(f.people, map[string]any{"data": data})
	if err != nil {
		return "", err
	}
	id := v.(map[string]any)["id"].(string)
	if p.Deleted {
		now := f.now()
		f.people.rows[id].deletedAt = &now
	}
	return id, nil
}

// SetCompany sets a person's company by hand ("" clears it).
func (f *Fake) SetCompany(personID, companyID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.people.rows[personID]
	if !ok {
		return fmt.Errorf("twentyfake: no person %s", personID)
	}
	var id any
	if companyID != "" {
		id = companyID
	}
	return f.apply(f.people, r, map[string]any{"companyId": id})
}

// SetPersonText sets a person's text field, "jobTitle" or "city", by
// hand ("" clears it), as someone editing the record in Twenty would. A
// person in the trash cannot be edited.
func (f *Fake) SetPersonText(personID, field, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.people.rows[personID]
	if !ok || r.deletedAt != nil {
		return fmt.Errorf("twentyfake: no live person %s", personID)
	}
	if field != "jobTitle" && field != "city" {
		return fmt.Errorf("twentyfake: %q is not a text field this fake edits", field)
	}
	return f.apply(f.people, r, map[string]any{field: value})
}

// TrashPerson soft-deletes a person, as Twenty's "Delete" does.
func (f *Fake) TrashPerson(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.deleteOne(f.people, map[string]any{"id": id})
	return err
}

// Company returns the company whose id is id, soft-deleted or not.
func (f *Fake) Company(id string) (Company, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.companies.rows[id]
	if !ok {
		return Company{}, false
	}
	return companyOf(r), true
}

// Companies returns every company, soft-deleted ones included, oldest
// first.
func (f *Fake) Companies() []Company {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Company, 0, len(f.companies.rows))
	for _, r := range f.companies.rows {
		out = append(out, companyOf(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// AddCompany stores a company (names need not be unique in Twenty; a
// domain must). It returns the company's id.
func (f *Fake) AddCompany(c Company) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data := map[string]any{"name": c.Name}
	if c.ID != "" {
		data["id"] = strings.ToLower(c.ID)
	}
	if c.Domain != "" {
		data["domainName"] = map[string]any{"primaryLinkUrl": c.Domain}
	}
	v, err := f.createOne(f.companies, map[string]any{"data": data})
	if err != nil {
		return "", err
	}
	id := v.(map[string]any)["id"].(string)
	if c.Deleted {
		now := f.now()
		f.companies.rows[id].deletedAt = &now
	}
	return id, nil
}

// TrashCompany soft-deletes a company. Its people keep their companyId,
// as in Twenty, where the foreign key acts only on a hard delete.
func (f *Fake) TrashCompany(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.deleteOne(f.companies, map[string]any{"id": id})
	return err
}
