package scimtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// userBody returns a minimal valid user called userName.
func userBody(userName string) obj {
	return obj{
		"schemas":     []any{urnUser},
		"userName":    userName,
		"displayName": "Scimtest " + userName,
		"name":        obj{"givenName": "Scim", "familyName": "Test"},
		"emails":      []any{obj{"value": userName + "@work.example", "type": "work", "primary": true}},
		"active":      true,
	}
}

// groupBody returns a group called displayName with the given member ids.
func groupBody(displayName string, memberIDs ...string) obj {
	members := []any{}
	for _, id := range memberIDs {
		members = append(members, obj{"value": id})
	}
	return obj{"schemas": []any{urnGroup}, "displayName": displayName, "members": members}
}

// create POSTs body to endpoint ("/Users", "/Groups"), expects 201 and an
// id, and has Close delete the resource.
func (c *Client) create(ctx context.Context, endpoint string, body obj) (obj, error) {
	r, err := c.do(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return nil, err
	}
	if r.status == http.StatusCreated && str(r.obj, "id") != "" {
		c.deleteLater(endpoint + "/" + url.PathEscape(str(r.obj, "id")))
	}
	if err := r.expect(http.StatusCreated); err != nil {
		return nil, err
	}
	if str(r.obj, "id") == "" {
		return nil, r.errorf("expected the created resource with an id")
	}
	return r.obj, nil
}

// createUser creates body as a user; see create.
func (c *Client) createUser(ctx context.Context, body obj) (obj, error) {
	return c.create(ctx, "/Users", body)
}

// createGroup creates body as a group; see create.
func (c *Client) createGroup(ctx context.Context, body obj) (obj, error) {
	return c.create(ctx, "/Groups", body)
}

// newUser creates a user named uniqueName(label).
func (c *Client) newUser(ctx context.Context, label string) (obj, error) {
	return c.createUser(ctx, userBody(uniqueName(label)))
}

// resourcePath returns "/Users/{id}" for endpoint "/Users" and resource o.
func resourcePath(endpoint string, o obj) string {
	return endpoint + "/" + url.PathEscape(str(o, "id"))
}

// get reads path and expects 200 with a JSON object.
func (c *Client) get(ctx context.Context, path string) (*response, error) {
	r, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if err := r.expect(http.StatusOK); err != nil {
		return nil, err
	}
	if r.obj == nil {
		return nil, r.errorf("expected a JSON object")
	}
	return r, nil
}

// patchBody wraps operations in a PatchOp message (RFC 7644 §3.5.2).
func patchBody(ops ...obj) obj {
	l := make([]any, len(ops))
	for i, op := range ops {
		l[i] = op
	}
	return obj{"schemas": []any{urnPatch}, "Operations": l}
}

// op returns one PATCH operation; path "" and value nil are left out.
func op(kind, path string, value any) obj {
	o := obj{"op": kind}
	if path != "" {
		o["path"] = path
	}
	if value != nil {
		o["value"] = value
	}
	return o
}

// patch sends a PATCH of ops to path.
func (c *Client) patch(ctx context.Context, path string, ops ...obj) (*response, error) {
	return c.do(ctx, http.MethodPatch, path, patchBody(ops...))
}

// patchOK applies ops to the resource at path, expecting success, and
// returns the resource after the change: the response body on 200, or a
// fresh GET on 204 (RFC 7644 §3.5.2 allows either).
func (c *Client) patchOK(ctx context.Context, path string, ops ...obj) (obj, error) {
	r, err := c.patch(ctx, path, ops...)
	if err != nil {
		return nil, err
	}
	if err := r.expect(http.StatusOK, http.StatusNoContent); err != nil {
		return nil, err
	}
	if r.status == http.StatusOK && r.obj != nil && str(r.obj, "id") != "" {
		return r.obj, nil
	}
	g, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	return g.obj, nil
}

// listResponse checks that r is a 200 ListResponse (RFC 7644 §3.4.2)
// and returns its Resources.
func listResponse(r *response) ([]any, error) {
	if err := r.expect(http.StatusOK); err != nil {
		return nil, err
	}
	if !hasSchema(r.obj, urnList) {
		return nil, r.errorf("expected a ListResponse (schemas holding %q)", urnList)
	}
	total, ok := number(r.obj, "totalResults")
	if !ok {
		return nil, r.errorf("expected totalResults as a number")
	}
	res := list(r.obj, "Resources")
	if lookup(r.obj, "Resources") != nil && res == nil {
		return nil, r.errorf("expected Resources as an array")
	}
	if int(total) < len(res) {
		return nil, r.errorf("expected totalResults (%v) to be at least the %d resources returned", total, len(res))
	}
	return res, nil
}

// query lists endpoint with the given query parameters and returns the
// response and its Resources.
func (c *Client) query(ctx context.Context, endpoint string, q url.Values) (*response, []any, error) {
	path := endpoint
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	r, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, nil, err
	}
	res, err := listResponse(r)
	return r, res, err
}

// filterNames runs filter on endpoint and returns the sorted values of
// attribute nameAttr ("userName", "displayName") of the matches.
func (c *Client) filterNames(ctx context.Context, endpoint, filter, nameAttr string) ([]string, error) {
	_, res, err := c.query(ctx, endpoint, url.Values{"filter": {filter}})
	if err != nil {
		return nil, err
	}
	return names(res, nameAttr), nil
}

// names returns the sorted values of attribute attr of resources.
func names(resources []any, attr string) []string {
	out := make([]string, 0, len(resources))
	for _, r := range resources {
		out = append(out, str(r, attr))
	}
	slices.Sort(out)
	return out
}

// sameNames returns an error unless got and want hold the same names.
func sameNames(what string, got, want []string) error {
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		return fmt.Errorf("%s: expected [%s], got [%s]", what, strings.Join(w, " "), strings.Join(got, " "))
	}
	return nil
}

// member returns the member of group g whose value is id, or nil.
func member(g obj, id string) obj {
	for _, m := range list(g, "members") {
		if str(m, "value") == id {
			o, _ := m.(obj)
			return o
		}
	}
	return nil
}

// multiValue returns the element of the multi-valued attribute attr of o
// whose type is typ, or nil.
func multiValue(o obj, attr, typ string) obj {
	for _, v := range list(o, attr) {
		if strings.EqualFold(str(v, "type"), typ) {
			m, _ := v.(obj)
			return m
		}
	}
	return nil
}
