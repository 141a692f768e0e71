package scim

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	elim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"

	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/scim/patch"
	"github.com/scimbridge/scimbridge/scim/quirks"
	"github.com/scimbridge/scimbridge/store"
)

// resourceHandler is what the edge needs of a resource type beyond the
// library's ResourceHandler.
type resourceHandler interface {
	elim.ResourceHandler
	// normalise applies the client-quirk rewrites to a POST or PUT body.
	normalise(r *http.Request, body []byte) ([]byte, error)
	// version is the stored version of id, for If-None-Match.
	version(ctx context.Context, id string) (uint64, error)
	// query answers a list request.
	query(ctx context.Context, r *http.Request, q listQuery) (listResult, error)
	// patch applies a PatchOp request.
	patch(ctx context.Context, r *http.Request, id string, ifVersion uint64, ops []patch.Operation) (doc map[string]any, version uint64, err error)
	// schemaOf is the filter schema of the resource type.
	schemaOf() filter.Schema
	// location renders the resource URL.
	name() string
}

// userHandler serves /Users.
type userHandler struct {
	h      *Handler
	schema filter.Schema
}

var _ resourceHandler = (*userHandler)(nil)

func (u *userHandler) name() string            { return "User" }
func (u *userHandler) schemaOf() filter.Schema { return u.schema }
func (u *userHandler) normalise(r *http.Request, b []byte) ([]byte, error) {
	return u.h.normaliseResource(r, "User", b)
}

func (u *userHandler) version(ctx context.Context, id string) (uint64, error) {
	usr, err := u.h.st.GetUser(ctx, id)
	if err != nil {
		return 0, err
	}
	return usr.Meta.Version, nil
}

// normaliseResource decodes a POST/PUT body, applies the quirk rewrites
// and encodes it again for the library's schema validation.
func (h *Handler) normaliseResource(r *http.Request, kind string, b []byte) ([]byte, error) {
	doc, err := decodeObject(b)
	if err != nil {
		return nil, err
	}
	changes := quirks.Resource(kind, doc)
	if len(changes) == 0 {
		return b, nil
	}
	h.logQuirks(r, changes)
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, errInvalidSyntax("the request body cannot be re-encoded")
	}
	return out, nil
}

// decodeObject decodes a JSON object body, numbers as json.Number.
func decodeObject(b []byte) (map[string]any, error) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, errInvalidSyntax("the request body is empty")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, errInvalidSyntax("the request body is not a JSON object: %s", jsonErrDetail(err))
	}
	if dec.More() {
		return nil, errInvalidSyntax("the request body has data after the JSON object")
	}
	if doc == nil {
		return nil, errInvalidSyntax("the request body is not a JSON object")
	}
	return doc, nil
}

// jsonErrDetail describes a decode error without echoing the payload.
func jsonErrDetail(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case asErr(err, &se):
		return "syntax error at byte " + itoa(int(se.Offset))
	case asErr(err, &te):
		return "wrong type at byte " + itoa(int(te.Offset))
	}
	return "malformed JSON"
}

// userFields copies the indexed fields out of a validated SCIM document
// and returns the attributes to store.
func userFields(doc map[string]any, usr *store.User) error {
	clean := make(map[string]any, len(doc))
	for k, v := range doc {
		switch strings.ToLower(k) {
		case "id", "meta", "schemas", "password", "groups":
			// id and meta are the server's; a password is never stored
			// (accounts downstream sign in through OIDC); groups is
			// read-only and derived from Group membership.
			continue
		case "externalid":
			continue
		}
		clean[k] = v
	}
	name, _ := doc["userName"].(string)
	name = strings.TrimSpace(name)
	if name == "" {
		return errInvalidValue("userName is required and must be a non-empty string")
	}
	usr.UserName = name
	usr.ExternalID = ""
	if ext, ok := doc["externalId"]; ok && ext != nil {
		s, ok := ext.(string)
		if !ok {
			return errInvalidValue("externalId must be a string")
		}
		usr.ExternalID = s
	}
	usr.DisplayName, _ = doc["displayName"].(string)
	usr.Active = true
	if a, ok := doc["active"]; ok && a != nil {
		b, ok := a.(bool)
		if !ok {
			return errInvalidValue("active must be a boolean")
		}
		usr.Active = b
	}
	usr.Emails = usr.Emails[:0]
	if list, ok := doc["emails"].([]any); ok {
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if v, ok := m["value"].(string); ok && v != "" {
					usr.Emails = append(usr.Emails, v)
				}
			}
		}
	}
	raw, err := json.Marshal(clean)
	if err != nil {
		return errInvalidValue("the user cannot be encoded")
	}
	usr.Attributes = raw
	return nil
}

// userDoc renders a stored user as a full SCIM document (what filters,
// sorting and PATCH see).
func userDoc(base string, usr *store.User, groups []map[string]any) map[string]any {
	doc := map[string]any{}
	if len(usr.Attributes) > 0 {
		_ = json.Unmarshal(usr.Attributes, &doc)
	}
	doc["id"] = usr.ID
	if usr.ExternalID != "" {
		doc["externalId"] = usr.ExternalID
	}
	if groups != nil {
		doc["groups"] = groups
	}
	doc["meta"] = metaDoc(base, "User", "Users", usr.ID, usr.Meta)
	return doc
}

func metaDoc(base, rt, endpoint, id string, m store.Meta) map[string]any {
	return map[string]any{
		"resourceType": rt,
		"created":      m.Created.UTC().Format(time.RFC3339),
		"lastModified": m.Modified.UTC().Format(time.RFC3339),
		"version":      etag(m.Version),
		"location":     base + "/" + endpoint + "/" + id,
	}
}

// resourceOf renders a document for the library, which adds id,
// externalId, schemas and meta itself.
func resourceOf(doc map[string]any, id string, m store.Meta) elim.Resource {
	attrs := make(elim.ResourceAttributes, len(doc))
	var ext optional.String
	for k, v := range doc {
		switch k {
		case "id", "meta", "schemas":
			continue
		case "externalId":
			if s, ok := v.(string); ok {
				ext = optional.NewString(s)
			}
			continue
		}
		attrs[k] = v
	}
	created, modified := m.Created.UTC(), m.Modified.UTC()
	return elim.Resource{
		ID:         id,
		ExternalID: ext,
		Attributes: attrs,
		Meta:       elim.Meta{Created: &created, LastModified: &modified, Version: etag(m.Version)},
	}
}

// userGroups lists the groups of a user in the shape of the User
// "groups" attribute (RFC 7643 §4.1.2).
func (u *userHandler) userGroups(ctx context.Context, base, id string) ([]map[string]any, error) {
	ids, err := u.h.st.UserGroups(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(ids))
	for _, gid := range ids {
		g, err := u.h.st.GetGroup(ctx, gid)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, map[string]any{
			"value":   gid,
			"$ref":    base + "/Groups/" + gid,
			"display": g.DisplayName,
			"type":    "direct",
		})
	}
	return out, nil
}

// render produces the response resource for usr honouring the request's
// attributes/excludedAttributes.
func (u *userHandler) render(r *http.Request, usr *store.User) (elim.Resource, error) {
	st := stateOf(r)
	proj, err := projectionFromURL(r.URL.Query())
	if err != nil {
		return elim.Resource{}, err
	}
	var groups []map[string]any
	if proj.wants("groups") {
		if groups, err = u.userGroups(r.Context(), st.base, usr.ID); err != nil {
			return elim.Resource{}, u.h.fail(r.Context(), "user", err)
		}
	}
	doc := proj.apply(userDoc(st.base, usr, groups), u.schema)
	return resourceOf(doc, usr.ID, usr.Meta), nil
}

// Create implements elim.ResourceHandler (POST /Users).
func (u *userHandler) Create(r *http.Request, attrs elim.ResourceAttributes) (elim.Resource, error) {
	usr := &store.User{}
	if err := userFields(attrs, usr); err != nil {
		return elim.Resource{}, err
	}
	st := stateOf(r)
	if err := u.h.st.CreateUser(r.Context(), st.actor, usr); err != nil {
		return elim.Resource{}, u.h.fail(r.Context(), "user "+quote(usr.UserName), err)
	}
	return u.render(r, usr)
}

// Get implements elim.ResourceHandler (GET /Users/{id}).
func (u *userHandler) Get(r *http.Request, id string) (elim.Resource, error) {
	usr, err := u.h.st.GetUser(r.Context(), id)
	if err != nil {
		return elim.Resource{}, u.h.fail(r.Context(), "user "+quote(id), err)
	}
	return u.render(r, usr)
}

// GetAll implements elim.ResourceHandler; lists never reach the library
// (see list.go), so it is not used.
func (u *userHandler) GetAll(r *http.Request, _ elim.ListRequestParams) (elim.Page, error) {
	return elim.Page{}, errInternal()
}

// Replace implements elim.ResourceHandler (PUT /Users/{id}).
func (u *userHandler) Replace(r *http.Request, id string, attrs elim.ResourceAttributes) (elim.Resource, error) {
	ifv, err := ifMatch(r)
	if err != nil {
		return elim.Resource{}, err
	}
	var fields store.User
	if err := userFields(attrs, &fields); err != nil {
		return elim.Resource{}, err
	}
	usr, err := u.h.st.UpdateUser(r.Context(), stateOf(r).actor, id, ifv, func(tx store.UserTx) error {
		cur := tx.User()
		cur.UserName, cur.ExternalID, cur.DisplayName = fields.UserName, fields.ExternalID, fields.DisplayName
		cur.Active = fields.Active
		cur.Emails = append([]string(nil), fields.Emails...)
		cur.Attributes = append(json.RawMessage(nil), fields.Attributes...)
		return nil
	})
	if err != nil {
		return elim.Resource{}, u.h.fail(r.Context(), "user "+quote(id), err)
	}
	return u.render(r, usr)
}

// Delete implements elim.ResourceHandler (DELETE /Users/{id}).
func (u *userHandler) Delete(r *http.Request, id string) error {
	ifv, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := u.h.st.DeleteUser(r.Context(), stateOf(r).actor, id, ifv); err != nil {
		return u.h.fail(r.Context(), "user "+quote(id), err)
	}
	return nil
}

// Patch implements elim.ResourceHandler; PATCH is served by patch.go.
func (u *userHandler) Patch(r *http.Request, _ string, _ []elim.PatchOperation) (elim.Resource, error) {
	return elim.Resource{}, errInternal()
}

func (u *userHandler) patch(ctx context.Context, r *http.Request, id string, ifVersion uint64, ops []patch.Operation) (map[string]any, uint64, error) {
	base := stateOf(r).base
	var out map[string]any
	usr, err := u.h.st.UpdateUser(ctx, stateOf(r).actor, id, ifVersion, func(tx store.UserTx) error {
		cur := tx.User()
		doc := userDoc(base, cur, nil)
		next, err := patch.Apply(u.schema, doc, ops)
		if err != nil {
			return err
		}
		if next, err = u.validateUserDoc(next); err != nil {
			return err
		}
		return userFields(next, cur)
	})
	if err != nil {
		return nil, 0, u.h.fail(ctx, "user "+quote(id), err)
	}
	out = userDoc(base, usr, nil)
	return out, usr.Meta.Version, nil
}

// query answers a Users list request. An `eq` on userName, externalId or
// emails.value (alone or and-ed with anything) reads only the index's
// candidates; a list with no filter and no sort reads only its page;
// anything else scans every user.
func (u *userHandler) query(ctx context.Context, r *http.Request, q listQuery) (listResult, error) {
	base := stateOf(r).base
	withGroups := q.proj.wants("groups") || (q.expr != nil && strings.Contains(strings.ToLower(q.filter), "groups"))
	doc := func(usr *store.User) (map[string]any, error) {
		var groups []map[string]any
		if withGroups {
			var err error
			if groups, err = u.userGroups(ctx, base, usr.ID); err != nil {
				return nil, err
			}
		}
		return userDoc(base, usr, groups), nil
	}
	if q.expr == nil && q.sortBy == "" {
		total, err := u.h.st.CountUsers(ctx)
		if err != nil {
			return listResult{}, err
		}
		res := listResult{total: total}
		skip := q.startIndex - 1
		var inner error
		err = u.h.st.ScanUsers(ctx, "", func(usr *store.User) bool {
			if skip > 0 {
				skip--
				return true
			}
			if len(res.docs) >= q.count {
				return false
			}
			d, err := doc(usr)
			if err != nil {
				inner = err
				return false
			}
			res.docs = append(res.docs, d)
			return true
		})
		if err == nil {
			err = inner
		}
		return res, err
	}
	var find *store.UserQuery
	if attr, val, ok := filter.EqualityIndex(q.expr, "userName", "externalId", "emails.value", "emails"); ok {
		v := val
		switch strings.ToLower(attr) {
		case "username":
			find = &store.UserQuery{UserName: &v}
		case "externalid":
			find = &store.UserQuery{ExternalID: &v}
		default:
			find = &store.UserQuery{Email: &v}
		}
	}
	return queryDocs(ctx, q, u.schema, func(fn func(map[string]any) bool) error {
		var inner error
		each := func(usr *store.User) bool {
			d, err := doc(usr)
			if err != nil {
				inner = err
				return false
			}
			return fn(d)
		}
		if find != nil {
			users, err := u.h.st.FindUsers(ctx, *find)
			if err != nil {
				return err
			}
			for _, usr := range users {
				if !each(usr) {
					break
				}
			}
			return inner
		}
		if err := u.h.st.ScanUsers(ctx, "", each); err != nil {
			return err
		}
		return inner
	})
}

// validateUserDoc checks a PATCHed user against the schemas.
func (u *userHandler) validateUserDoc(doc map[string]any) (map[string]any, error) {
	return validateDoc(u.schema, doc)
}

// logQuirks records, at debug level, which client quirks a request needed
// (constant words, never payload values).
func (h *Handler) logQuirks(r *http.Request, changes []string) {
	if len(changes) == 0 || !h.log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelDebug, "normalised client quirk",
		slog.String("actor", string(stateOf(r).actor)), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Any("quirks", changes))
}
