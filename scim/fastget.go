package scim

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// getUserFast answers GET /Users/{id} without projection by splicing the
// stored attribute document into the response, instead of decoding it
// into maps and encoding it again as the library path does. It is the
// hottest read an identity provider makes (before every update), and
// this halves its cost. The output is the same resource the library
// renders (TestFastGetMatchesLibrary).
func (u *userHandler) getUserFast(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	usr, err := u.h.st.GetUser(ctx, id)
	if err != nil {
		writeError(w, u.h.fail(ctx, "user "+quote(id), err))
		return
	}
	base := stateOf(r).base
	groups, err := u.userGroups(ctx, base, id)
	if err != nil {
		writeError(w, u.h.fail(ctx, "user "+quote(id), err))
		return
	}
	top, err := storedAttrs(usr.Attributes, "groups")
	if err != nil {
		writeError(w, u.h.fail(ctx, "user "+quote(id), err))
		return
	}
	b := make([]byte, 0, len(usr.Attributes)+512)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, usr.ID)
	if usr.ExternalID != "" {
		b = append(b, `,"externalId":`...)
		b = appendJSONString(b, usr.ExternalID)
	}
	if len(groups) > 0 {
		gb, err := json.Marshal(groups)
		if err != nil {
			writeError(w, u.h.fail(ctx, "user "+quote(id), err))
			return
		}
		b = append(b, `,"groups":`...)
		b = append(b, gb...)
	}
	b = append(b, `,"meta":`...)
	b = appendMeta(b, base, "User", "Users", usr.ID, usr.Meta)
	if _, ok := top[SchemaEnterprise]; ok {
		b = append(b, `,"schemas":["`+SchemaUser+`","`+SchemaEnterprise+`"]`...)
	} else {
		b = append(b, `,"schemas":["`+SchemaUser+`"]`...)
	}
	b = appendAttrs(b, top)
	b = append(b, '}')
	w.Header().Set("ETag", etag(usr.Meta.Version))
	_, _ = w.Write(b)
}

// storedAttrs decodes the top level of a stored attribute document,
// without the common attributes and the named ones, which the response
// renders itself.
func storedAttrs(raw json.RawMessage, skip ...string) (map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &top); err != nil {
			return nil, err
		}
	}
	for _, k := range append([]string{"id", "meta", "schemas", "externalId"}, skip...) {
		delete(top, k)
	}
	return top, nil
}

// appendAttrs appends each attribute as `,"name":value`, in name order.
func appendAttrs(b []byte, top map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, ',')
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = append(b, top[k]...)
	}
	return b
}

// appendMeta renders meta exactly as the library does (RFC 3339 times to
// the second).
func appendMeta(b []byte, base, rt, endpoint, id string, m store.Meta) []byte {
	b = append(b, `{"created":"`...)
	b = m.Created.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","lastModified":"`...)
	b = m.Modified.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","location":`...)
	b = appendJSONString(b, base+"/"+endpoint+"/"+id)
	b = append(b, `,"resourceType":`...)
	b = appendJSONString(b, rt)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, etag(m.Version))
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// does; the common case (printable ASCII without quotes, backslashes or
// HTML characters) is copied as is.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// getGroupFast answers GET /Groups/{id} without projection by streaming
// the member list straight from the store's member index to the client,
// instead of building the whole document (18 MB for 100,000 members)
// in memory first and encoding it again. The members are read in one
// read transaction, so the list is the one of the version in the ETag;
// the transaction ends before anything is written to the network.
// The output is the same resource the library renders
// (TestFastGetMatchesLibrary).
func (g *groupHandler) getGroupFast(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	grp, members, err := g.h.st.GroupWithMembers(ctx, id)
	if err != nil {
		writeError(w, g.h.fail(ctx, "group "+quote(id), err))
		return
	}
	top, err := storedAttrs(grp.Attributes, "members", "displayName")
	if err != nil {
		writeError(w, g.h.fail(ctx, "group "+quote(id), err))
		return
	}
	base := stateOf(r).base
	b := make([]byte, 0, 4096)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, grp.ID)
	b = append(b, `,"displayName":`...)
	b = appendJSONString(b, grp.DisplayName)
	if grp.ExternalID != "" {
		b = append(b, `,"externalId":`...)
		b = appendJSONString(b, grp.ExternalID)
	}
	b = append(b, `,"meta":`...)
	b = appendMeta(b, base, "Group", "Groups", grp.ID, grp.Meta)
	b = append(b, `,"schemas":["`+SchemaGroup+`"]`...)
	b = appendAttrs(b, top)
	w.Header().Set("ETag", etag(grp.Meta.Version))
	ref := appendJSONString(nil, base+"/Users/")
	ref = ref[:len(ref)-1] // open string: the id follows
	b = append(b, `,"members":[`...)
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"value":`...)
		b = appendJSONString(b, m.UserID)
		b = append(b, `,"$ref":`...)
		b = append(b, ref...)
		b = appendJSONInner(b, m.UserID)
		b = append(b, '"')
		if m.Display != "" {
			b = append(b, `,"display":`...)
			b = appendJSONString(b, m.Display)
		}
		b = append(b, `,"type":"User"}`...)
		if len(b) >= 32<<10 {
			if _, err := w.Write(b); err != nil {
				return // the client went away
			}
			b = b[:0]
		}
	}
	b = append(b, "]}"...)
	_, _ = w.Write(b)
}

// appendJSONInner appends s escaped for the inside of a JSON string.
func appendJSONInner(b []byte, s string) []byte {
	q := appendJSONString(nil, s)
	return append(b, q[1:len(q)-1]...)
}
