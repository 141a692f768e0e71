package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	elim "github.com/elimity-com/scim"
	fp "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/scim/patch"
	"github.com/scimbridge/scimbridge/store"
)

// groupHandler serves /Groups. Members are never part of the stored group
// document: they live one key per member in the store, so adding one
// member to a group of 100,000 touches a few keys, and a GET renders the
// list straight from that index.
type groupHandler struct {
	h      *Handler
	schema filter.Schema
}

var _ resourceHandler = (*groupHandler)(nil)

func (g *groupHandler) name() string            { return "Group" }
func (g *groupHandler) schemaOf() filter.Schema { return g.schema }
func (g *groupHandler) normalise(r *http.Request, b []byte) ([]byte, error) {
	return g.h.normaliseResource(r, "Group", b)
}

func (g *groupHandler) version(ctx context.Context, id string) (uint64, error) {
	grp, err := g.h.st.GetGroup(ctx, id)
	if err != nil {
		return 0, err
	}
	return grp.Meta.Version, nil
}

// memberJSON is one rendered member; a struct, not a map, because a GET of
// a 100,000-member group encodes 100,000 of them.
type memberJSON struct {
	Value   string `json:"value"`
	Ref     string `json:"$ref"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type"`
}

func renderMembers(base string, ms []store.Member) []memberJSON {
	out := make([]memberJSON, len(ms))
	for i, m := range ms {
		out[i] = memberJSON{Value: m.UserID, Ref: base + "/Users/" + m.UserID, Display: m.Display, Type: "User"}
	}
	return out
}

func memberMaps(base string, ms []store.Member) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = map[string]any{"value": m.UserID, "$ref": base + "/Users/" + m.UserID, "display": m.Display, "type": "User"}
	}
	return out
}

// groupFields copies a validated document into grp (all but members).
func groupFields(doc map[string]any, grp *store.Group) error {
	clean := make(map[string]any, len(doc))
	for k, v := range doc {
		switch strings.ToLower(k) {
		case "id", "meta", "schemas", "members", "externalid":
			continue
		}
		clean[k] = v
	}
	name, _ := doc["displayName"].(string)
	name = strings.TrimSpace(name)
	if name == "" {
		return errInvalidValue("displayName is required and must be a non-empty string")
	}
	grp.DisplayName = name
	grp.ExternalID = ""
	if ext, ok := doc["externalId"]; ok && ext != nil {
		s, ok := ext.(string)
		if !ok {
			return errInvalidValue("externalId must be a string")
		}
		grp.ExternalID = s
	}
	raw, err := json.Marshal(clean)
	if err != nil {
		return errInvalidValue("the group cannot be encoded")
	}
	grp.Attributes = raw
	return nil
}

// memberIDs reads the "value" of each member element, refusing what this
// server cannot store: nested groups and values that are not strings.
func memberIDs(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		list = []any{x}
	default:
		return nil, errInvalidValue("members must be a list of objects with a value")
	}
	ids := make([]string, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, errInvalidValue("each member must be an object with a value")
		}
		id, ok := getCI(m, "value").(string)
		if !ok || id == "" {
			return nil, errInvalidValue("each member needs a string value (the user's id)")
		}
		if t, ok := getCI(m, "type").(string); ok && strings.EqualFold(t, "Group") {
			return nil, errInvalidValue("member %q is a group: nested groups are not supported", id)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func addMembers(tx store.GroupTx, ids []string) error {
	for _, id := range ids {
		if err := tx.AddMember(id); err != nil {
			if isNotFound(err) {
				return errInvalidValue("member %q is not a known user", id)
			}
			return err
		}
	}
	return nil
}

// replaceMembers makes the member set exactly ids.
func replaceMembers(tx store.GroupTx, ids []string) error {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	cur, err := tx.Members()
	if err != nil {
		return err
	}
	for _, m := range cur {
		if !want[m.UserID] {
			if err := tx.RemoveMember(m.UserID); err != nil {
				return err
			}
		}
	}
	return addMembers(tx, ids)
}

func groupDoc(base string, grp *store.Group) map[string]any {
	doc := map[string]any{}
	if len(grp.Attributes) > 0 {
		_ = json.Unmarshal(grp.Attributes, &doc)
	}
	doc["id"] = grp.ID
	doc["displayName"] = grp.DisplayName
	if grp.ExternalID != "" {
		doc["externalId"] = grp.ExternalID
	}
	doc["meta"] = metaDoc(base, "Group", "Groups", grp.ID, grp.Meta)
	return doc
}

func (g *groupHandler) render(r *http.Request, grp *store.Group) (elim.Resource, error) {
	st := stateOf(r)
	proj, err := projectionFromURL(r.URL.Query())
	if err != nil {
		return elim.Resource{}, err
	}
	doc := groupDoc(st.base, grp)
	if proj.wants("members") {
		ms, err := g.h.st.GroupMembers(r.Context(), grp.ID)
		if err != nil {
			return elim.Resource{}, g.h.fail(r.Context(), "group "+quote(grp.ID), err)
		}
		if len(proj.attrs) > 0 {
			doc["members"] = memberMaps(st.base, ms) // sub-attribute projection needs maps
		} else {
			doc["members"] = renderMembers(st.base, ms)
		}
	}
	return resourceOf(proj.apply(doc, g.schema), grp.ID, grp.Meta), nil
}

// Create implements elim.ResourceHandler (POST /Groups).
func (g *groupHandler) Create(r *http.Request, attrs elim.ResourceAttributes) (elim.Resource, error) {
	grp := &store.Group{}
	if err := groupFields(attrs, grp); err != nil {
		return elim.Resource{}, err
	}
	ids, err := memberIDs(attrs["members"])
	if err != nil {
		return elim.Resource{}, err
	}
	st := stateOf(r)
	err = g.h.st.CreateGroup(r.Context(), st.actor, grp, func(tx store.GroupTx) error { return addMembers(tx, ids) })
	if err != nil {
		return elim.Resource{}, g.h.fail(r.Context(), "group "+quote(grp.DisplayName), err)
	}
	return g.render(r, grp)
}

// Get implements elim.ResourceHandler (GET /Groups/{id}).
func (g *groupHandler) Get(r *http.Request, id string) (elim.Resource, error) {
	grp, err := g.h.st.GetGroup(r.Context(), id)
	if err != nil {
		return elim.Resource{}, g.h.fail(r.Context(), "group "+quote(id), err)
	}
	return g.render(r, grp)
}

// GetAll implements elim.ResourceHandler; unused (see list.go).
func (g *groupHandler) GetAll(r *http.Request, _ elim.ListRequestParams) (elim.Page, error) {
	return elim.Page{}, errInternal()
}

// Replace implements elim.ResourceHandler (PUT /Groups/{id}): the member
// list in the body becomes the member set, as Keycloak's SCIM clients
// expect when they PUT a whole group.
func (g *groupHandler) Replace(r *http.Request, id string, attrs elim.ResourceAttributes) (elim.Resource, error) {
	ifv, err := ifMatch(r)
	if err != nil {
		return elim.Resource{}, err
	}
	var fields store.Group
	if err := groupFields(attrs, &fields); err != nil {
		return elim.Resource{}, err
	}
	ids, err := memberIDs(attrs["members"])
	if err != nil {
		return elim.Resource{}, err
	}
	grp, err := g.h.st.UpdateGroup(r.Context(), stateOf(r).actor, id, ifv, func(tx store.GroupTx) error {
		cur := tx.Group()
		cur.DisplayName, cur.ExternalID = fields.DisplayName, fields.ExternalID
		cur.Attributes = append(json.RawMessage(nil), fields.Attributes...)
		return replaceMembers(tx, ids)
	})
	if err != nil {
		return elim.Resource{}, g.h.fail(r.Context(), "group "+quote(id), err)
	}
	return g.render(r, grp)
}

// Delete implements elim.ResourceHandler (DELETE /Groups/{id}).
func (g *groupHandler) Delete(r *http.Request, id string) error {
	ifv, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := g.h.st.DeleteGroup(r.Context(), stateOf(r).actor, id, ifv); err != nil {
		return g.h.fail(r.Context(), "group "+quote(id), err)
	}
	return nil
}

// Patch implements elim.ResourceHandler; PATCH is served by patch.go.
func (g *groupHandler) Patch(r *http.Request, _ string, _ []elim.PatchOperation) (elim.Resource, error) {
	return elim.Resource{}, errInternal()
}

// patch applies a PatchOp to a group in one transaction. Operations on
// members become member-index edits; the rest go through the PATCH engine
// on the group's other attributes. It returns a nil document: a group
// PATCH is answered 204 No Content (RFC 7644 §3.5.2 allows it), so that
// adding one member never renders the whole member list.
func (g *groupHandler) patch(ctx context.Context, r *http.Request, id string, ifVersion uint64, ops []patch.Operation) (map[string]any, uint64, error) {
	base := stateOf(r).base
	grp, err := g.h.st.UpdateGroup(ctx, stateOf(r).actor, id, ifVersion, func(tx store.GroupTx) error {
		var rest []patch.Operation
		for _, op := range ops {
			residual, err := g.memberOp(tx, base, op)
			if err != nil {
				return err
			}
			if residual != nil {
				rest = append(rest, *residual)
			}
		}
		if len(rest) == 0 {
			return nil
		}
		cur := tx.Group()
		next, err := patch.Apply(g.schema, groupDoc(base, cur), rest)
		if err != nil {
			return err
		}
		if next, err = validateDoc(g.schema, next); err != nil {
			return err
		}
		return groupFields(next, cur)
	})
	if err != nil {
		return nil, 0, g.h.fail(ctx, "group "+quote(id), err)
	}
	return nil, grp.Meta.Version, nil
}

// memberOp applies op when it targets members and returns what is left
// for the PATCH engine (nil when nothing is).
func (g *groupHandler) memberOp(tx store.GroupTx, base string, op patch.Operation) (*patch.Operation, error) {
	kind := strings.ToLower(op.Op)
	if strings.TrimSpace(op.Path) == "" {
		obj, ok := op.Value.(map[string]any)
		if !ok {
			return &op, nil // the engine reports the error
		}
		key, ok := keyCI(obj, "members")
		if !ok {
			return &op, nil
		}
		ids, err := memberIDs(obj[key])
		if err != nil {
			return nil, err
		}
		switch kind {
		case "add":
			err = addMembers(tx, ids)
		case "replace":
			err = replaceMembers(tx, ids)
		default:
			return &op, nil
		}
		if err != nil {
			return nil, err
		}
		rest := make(map[string]any, len(obj))
		for k, v := range obj {
			if k != key {
				rest[k] = v
			}
		}
		if len(rest) == 0 {
			return nil, nil
		}
		return &patch.Operation{Op: op.Op, Value: rest}, nil
	}
	p, err := fp.ParsePath([]byte(op.Path))
	if err != nil {
		return &op, nil // the engine reports invalidPath
	}
	if !strings.EqualFold(p.AttributePath.AttributeName, "members") ||
		(p.AttributePath.URIPrefix != nil && !strings.EqualFold(*p.AttributePath.URIPrefix, SchemaGroup)) {
		return &op, nil
	}
	if p.AttributePath.SubAttribute != nil || p.SubAttribute != nil {
		return nil, scimErr(http.StatusBadRequest, "invalidPath", "member sub-attributes cannot be patched; add or remove whole members")
	}
	if p.ValueExpression == nil {
		switch kind {
		case "add":
			ids, err := memberIDs(op.Value)
			if err != nil {
				return nil, err
			}
			return nil, addMembers(tx, ids)
		case "replace":
			ids, err := memberIDs(op.Value)
			if err != nil {
				return nil, err
			}
			return nil, replaceMembers(tx, ids)
		case "remove":
			if op.Value != nil {
				ids, err := memberIDs(op.Value)
				if err != nil {
					return nil, err
				}
				for _, id := range ids {
					if err := tx.RemoveMember(id); err != nil {
						return nil, err
					}
				}
				return nil, nil
			}
			return nil, replaceMembers(tx, nil)
		}
		return nil, errInvalidSyntax("unknown operation %q", op.Op)
	}
	if kind != "remove" {
		return nil, scimErr(http.StatusBadRequest, "invalidPath", "a members filter can only be used to remove members")
	}
	if ids, ok := memberValueEq(p.ValueExpression); ok {
		for _, id := range ids {
			if err := tx.RemoveMember(id); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	// Any other filter: evaluate it on every member (the slow path).
	membersAttr, _ := lookupAttr(g.schema, "members")
	if err := g.schema.Validate(&fp.ValuePath{AttributePath: p.AttributePath, ValueFilter: p.ValueExpression}); err != nil {
		return nil, scimErr(http.StatusBadRequest, "invalidPath", "%s", filterDetail(err))
	}
	ms, err := tx.Members()
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		elem := map[string]any{"value": m.UserID, "display": m.Display, "type": "User", "$ref": base + "/Users/" + m.UserID}
		if g.schema.MatchElement(p.ValueExpression, membersAttr, elem) {
			if err := tx.RemoveMember(m.UserID); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// memberValueEq recognises `value eq "id"` and or-chains of it, the
// filters clients send to remove members, so they cost O(log n).
func memberValueEq(e fp.Expression) ([]string, bool) {
	switch x := e.(type) {
	case *fp.AttributeExpression:
		if x.Operator == fp.EQ && x.AttributePath.SubAttribute == nil && strings.EqualFold(x.AttributePath.AttributeName, "value") {
			if s, ok := x.CompareValue.(string); ok {
				return []string{s}, true
			}
		}
	case *fp.LogicalExpression:
		if x.Operator == fp.OR {
			l, ok1 := memberValueEq(x.Left)
			r, ok2 := memberValueEq(x.Right)
			if ok1 && ok2 {
				return append(l, r...), true
			}
		}
	}
	return nil, false
}

// validateDoc checks a document produced by PATCH against the schema the
// way POST/PUT bodies are checked, and returns it with canonical names.
func validateDoc(sc filter.Schema, doc map[string]any) (map[string]any, error) {
	out, se := sc.Core.ValidateExtension(doc)
	if se != nil {
		return nil, *se
	}
	// The core schemas do not list the common attributes; carry them.
	for _, k := range []string{"id", "externalId", "meta"} {
		if v, ok := doc[k]; ok {
			out[k] = v
		}
	}
	for _, e := range sc.Extensions {
		k, ok := keyCI(doc, e.ID)
		if !ok || doc[k] == nil {
			continue
		}
		v, se := e.ValidateExtension(doc[k])
		if se != nil {
			return nil, *se
		}
		out[e.ID] = v
	}
	return out, nil
}

// query answers a Groups list request.
func (g *groupHandler) query(ctx context.Context, r *http.Request, q listQuery) (listResult, error) {
	base := stateOf(r).base
	needMembers := q.expr != nil && strings.Contains(strings.ToLower(q.filter), "members")
	doc := func(grp *store.Group) (map[string]any, error) {
		d := groupDoc(base, grp)
		if needMembers {
			ms, err := g.h.st.GroupMembers(ctx, grp.ID)
			if err != nil {
				return nil, err
			}
			d["members"] = memberMaps(base, ms)
		}
		return d, nil
	}
	var res listResult
	var err error
	if attr, val, ok := filter.EqualityIndex(q.expr, "displayName"); ok && attr != "" {
		res, err = queryDocs(ctx, q, g.schema, func(fn func(map[string]any) bool) error {
			grp, err := g.h.st.FindGroupByName(ctx, val)
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			d, err := doc(grp)
			if err != nil {
				return err
			}
			fn(d)
			return nil
		})
	} else {
		res, err = queryDocs(ctx, q, g.schema, func(fn func(map[string]any) bool) error {
			var inner error
			err := g.h.st.ScanGroups(ctx, "", func(grp *store.Group) bool {
				d, err := doc(grp)
				if err != nil {
					inner = err
					return false
				}
				return fn(d)
			})
			if err != nil {
				return err
			}
			return inner
		})
	}
	if err != nil {
		return listResult{}, err
	}
	// Members are rendered only for the page, not for every match.
	if q.proj.wants("members") {
		for i, d := range res.docs {
			if _, ok := d["members"]; ok {
				continue
			}
			id, _ := d["id"].(string)
			ms, err := g.h.st.GroupMembers(ctx, id)
			if err != nil {
				return listResult{}, err
			}
			if len(q.proj.attrs) > 0 {
				res.docs[i]["members"] = memberMaps(base, ms)
			} else {
				res.docs[i]["members"] = renderMembers(base, ms)
			}
		}
	} else {
		for _, d := range res.docs {
			delete(d, "members")
		}
	}
	return res, nil
}
