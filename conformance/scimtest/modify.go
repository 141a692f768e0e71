package scimtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

func replaceChecks() []Check {
	return []Check{
		{Name: "PUT replaces the user and clears omitted attributes", Section: "RFC 7644 §3.5.1", Run: checkPut},
		{Name: "PUT to a taken userName is 409 uniqueness", Section: "RFC 7644 §3.5.1", Run: checkPutConflict},
		{Name: "PUT and PATCH on an unknown id are 404", Section: "RFC 7644 §3.5", Run: checkModifyUnknown},
	}
}

func checkPut(ctx context.Context, c *Client) error {
	body := userBody(uniqueName("put"))
	body["title"] = "Engineer"
	body["nickName"] = "scimmy"
	u, err := c.createUser(ctx, body)
	if err != nil {
		return err
	}
	replacement := userBody(str(u, "userName"))
	replacement["name"] = obj{"givenName": "Replaced"}
	path := resourcePath("/Users", u)
	r, err := c.do(ctx, http.MethodPut, path, replacement)
	if err != nil {
		return err
	}
	if err := r.expect(http.StatusOK); err != nil {
		return err
	}
	g, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	for _, o := range []*response{r, g} {
		if str(o.obj, "id") != str(u, "id") {
			return o.errorf("expected id %q unchanged", str(u, "id"))
		}
		if str(o.obj, "name", "givenName") != "Replaced" {
			return o.errorf("expected name.givenName Replaced")
		}
		for _, attr := range [][]string{{"title"}, {"nickName"}, {"name", "familyName"}} {
			if has(o.obj, attr...) {
				return o.errorf("expected %v, omitted from the PUT, to be cleared", attr)
			}
		}
	}
	if v := str(g.obj, "meta", "version"); v != "" && v == str(u, "meta", "version") {
		return g.errorf("expected meta.version to change")
	}
	return nil
}

func checkPutConflict(ctx context.Context, c *Client) error {
	a, err := c.newUser(ctx, "puta")
	if err != nil {
		return err
	}
	b, err := c.newUser(ctx, "putb")
	if err != nil {
		return err
	}
	r, err := c.do(ctx, http.MethodPut, resourcePath("/Users", b), userBody(str(a, "userName")))
	if err != nil {
		return err
	}
	return r.expectError(http.StatusConflict, "uniqueness")
}

func checkModifyUnknown(ctx context.Context, c *Client) error {
	path := "/Users/" + uniqueName("missing")
	r, err := c.do(ctx, http.MethodPut, path, userBody(uniqueName("missing")))
	if err != nil {
		return err
	}
	if err := r.expectError(http.StatusNotFound); err != nil {
		return err
	}
	if c.require(ctx, "patch") != nil {
		return nil
	}
	r, err = c.patch(ctx, path, op("replace", "title", "x"))
	if err != nil {
		return err
	}
	return r.expectError(http.StatusNotFound)
}

// patchUser creates a user for a PATCH check: title Engineer, name Scim
// Test, emails work (primary) and home.
func (c *Client) patchUser(ctx context.Context, label string) (obj, string, error) {
	if err := c.require(ctx, "patch"); err != nil {
		return nil, "", err
	}
	body := userBody(uniqueName(label))
	body["title"] = "Engineer"
	body["emails"] = []any{
		obj{"value": str(body, "userName") + "@work.example", "type": "work", "primary": true},
		obj{"value": str(body, "userName") + "@home.example", "type": "home", "primary": false},
	}
	u, err := c.createUser(ctx, body)
	if err != nil {
		return nil, "", err
	}
	return u, resourcePath("/Users", u), nil
}

// patchCheck returns a check that applies ops to a fresh patchUser and
// hands the result to verify.
func patchCheck(verify func(before, after obj) error, ops ...obj) func(context.Context, *Client) error {
	return func(ctx context.Context, c *Client) error {
		u, path, err := c.patchUser(ctx, "patch")
		if err != nil {
			return err
		}
		after, err := c.patchOK(ctx, path, ops...)
		if err != nil {
			return err
		}
		if err := verify(u, after); err != nil {
			b, _ := json.Marshal(patchBody(ops...)["Operations"])
			return fmt.Errorf("PATCH %s %s: %w", path, b, err)
		}
		return nil
	}
}

// patchErrorCheck returns a check that ops on a fresh patchUser fail with
// 400 and one of scimTypes.
func patchErrorCheck(scimTypes []string, ops ...obj) func(context.Context, *Client) error {
	return func(ctx context.Context, c *Client) error {
		_, path, err := c.patchUser(ctx, "patcherr")
		if err != nil {
			return err
		}
		r, err := c.patch(ctx, path, ops...)
		if err != nil {
			return err
		}
		return r.expectError(http.StatusBadRequest, scimTypes...)
	}
}

// expectStr returns an error unless the string at keys of o is want.
func expectStr(o obj, want string, keys ...string) error {
	if got := str(o, keys...); got != want {
		return fmt.Errorf("expected %v %q, got %q", keys, want, got)
	}
	return nil
}

func patchChecks() []Check {
	const (
		s       = "RFC 7644 §3.5.2"
		add     = "RFC 7644 §3.5.2.1"
		remove  = "RFC 7644 §3.5.2.2"
		replace = "RFC 7644 §3.5.2.3"
	)
	return []Check{
		{Name: "patch add with path", Section: add, Run: patchCheck(func(_, a obj) error {
			return expectStr(a, "scimmy", "nickName")
		}, op("add", "nickName", "scimmy"))},
		{Name: "patch add without path", Section: add, Run: patchCheck(func(_, a obj) error {
			return errors.Join(expectStr(a, "scimmy", "nickName"), expectStr(a, "Lead", "title"))
		}, op("add", "", obj{"nickName": "scimmy", "title": "Lead"}))},
		{Name: "patch add appends to a multi-valued attribute", Section: add, Run: patchCheck(func(b, a obj) error {
			if len(list(a, "emails")) != 3 || multiValue(a, "emails", "other") == nil {
				return fmt.Errorf("expected 3 emails including type other, got %v", lookup(a, "emails"))
			}
			return nil
		}, op("add", "emails", []any{obj{"value": "other@other.example", "type": "other"}}))},
		{Name: "patch replace with path", Section: replace, Run: patchCheck(func(_, a obj) error {
			return expectStr(a, "Manager", "title")
		}, op("replace", "title", "Manager"))},
		{Name: "patch replace without path", Section: replace, Run: patchCheck(func(b, a obj) error {
			return errors.Join(expectStr(a, "Replaced Name", "displayName"), expectStr(a, "Boss", "title"),
				expectStr(a, str(b, "userName"), "userName"))
		}, op("replace", "", obj{"displayName": "Replaced Name", "title": "Boss"}))},
		{Name: "patch remove with path", Section: remove, Run: patchCheck(func(_, a obj) error {
			if has(a, "title") {
				return fmt.Errorf("expected no title, got %q", str(a, "title"))
			}
			return nil
		}, op("remove", "title", nil))},
		{Name: "patch remove without path is 400 noTarget", Section: remove, Run: patchErrorCheck([]string{"noTarget"}, op("remove", "", nil))},
		{Name: "patch sub-attribute path name.givenName", Section: replace, Run: patchCheck(func(_, a obj) error {
			return errors.Join(expectStr(a, "Changed", "name", "givenName"), expectStr(a, "Test", "name", "familyName"))
		}, op("replace", "name.givenName", "Changed"))},
		{Name: "patch value filter path emails[type eq work].value", Section: replace, Run: patchCheck(func(b, a obj) error {
			if len(list(a, "emails")) != 2 {
				return fmt.Errorf("expected 2 emails, got %v", lookup(a, "emails"))
			}
			return errors.Join(
				expectStr(multiValue(a, "emails", "work"), "changed@work.example", "value"),
				expectStr(multiValue(a, "emails", "home"), str(multiValue(b, "emails", "home"), "value"), "value"))
		}, op("replace", `emails[type eq "work"].value`, "changed@work.example"))},
		{Name: "patch setting primary clears the other primary", Section: s, Run: patchCheck(func(_, a obj) error {
			if lookup(multiValue(a, "emails", "home"), "primary") != true {
				return fmt.Errorf("expected the home email primary, got %v", lookup(a, "emails"))
			}
			if lookup(multiValue(a, "emails", "work"), "primary") == true {
				return fmt.Errorf("expected the work email no longer primary, got %v", lookup(a, "emails"))
			}
			return nil
		}, op("replace", `emails[type eq "home"].primary`, true))},
		{Name: "patch of readOnly id is 400 mutability", Section: s, Run: patchErrorCheck([]string{"mutability"}, op("replace", "id", "scimtest-new-id"))},
		{Name: "patch replace with an unmatched value filter is 400 noTarget", Section: replace, Run: patchErrorCheck([]string{"noTarget"},
			op("replace", `emails[type eq "scimtestnone"].value`, "x@x.example"))},
		{Name: "patch with a malformed path is 400 invalidPath", Section: s, Run: patchErrorCheck([]string{"invalidPath"},
			op("replace", `emails[type eq "work"`, "x@x.example"))},
		{Name: "failed patch changes nothing", Section: s, Run: checkPatchAtomic},
	}
}

func checkPatchAtomic(ctx context.Context, c *Client) error {
	u, path, err := c.patchUser(ctx, "atomic")
	if err != nil {
		return err
	}
	r, err := c.patch(ctx, path,
		op("replace", "title", "Changed"),
		op("replace", `emails[type eq "scimtestnone"].value`, "x@x.example"))
	if err != nil {
		return err
	}
	if err := r.expectError(http.StatusBadRequest); err != nil {
		return err
	}
	g, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	if str(g.obj, "title") != "Engineer" {
		return g.errorf("expected title Engineer: the first operation of a failed PATCH must not be applied")
	}
	if v := str(u, "meta", "version"); str(g.obj, "meta", "version") != v {
		return g.errorf("expected meta.version %q unchanged after a failed PATCH", v)
	}
	// The first operation alone must succeed, or the failure above proved
	// nothing about atomicity.
	after, err := c.patchOK(ctx, path, op("replace", "title", "Changed"))
	if err != nil {
		return fmt.Errorf("the first operation alone: %w", err)
	}
	return expectStr(after, "Changed", "title")
}

func deleteChecks() []Check {
	return []Check{
		{Name: "delete user is 204, then GET and DELETE are 404", Section: "RFC 7644 §3.6", Run: checkDelete},
	}
}

func checkDelete(ctx context.Context, c *Client) error {
	u, err := c.newUser(ctx, "delete")
	if err != nil {
		return err
	}
	path := resourcePath("/Users", u)
	r, err := c.do(ctx, http.MethodDelete, path, nil)
	if err != nil {
		return err
	}
	if err := r.expect(http.StatusNoContent); err != nil {
		return err
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		r, err := c.do(ctx, m, path, nil)
		if err != nil {
			return err
		}
		if err := r.expectError(http.StatusNotFound); err != nil {
			return err
		}
	}
	return nil
}

func versionChecks() []Check {
	const s = "RFC 7644 §3.14"
	return []Check{
		{Name: "GET returns ETag equal to meta.version", Section: s, Run: checkETag},
		{Name: "If-Match with the current version succeeds", Section: s, Run: checkIfMatchCurrent},
		{Name: "stale If-Match on PUT is 412", Section: s, Run: staleCheck(http.MethodPut)},
		{Name: "stale If-Match on PATCH is 412", Section: s, Run: staleCheck(http.MethodPatch)},
		{Name: "stale If-Match on DELETE is 412", Section: s, Run: staleCheck(http.MethodDelete)},
		{Name: "If-None-Match with the current version is 304", Section: s, Run: checkIfNoneMatch},
	}
}

// versionedUser creates a user for a versioning check and returns it,
// its path and its current version.
func (c *Client) versionedUser(ctx context.Context) (obj, string, string, error) {
	if err := c.require(ctx, "etag"); err != nil {
		return nil, "", "", err
	}
	u, err := c.newUser(ctx, "etag")
	if err != nil {
		return nil, "", "", err
	}
	path := resourcePath("/Users", u)
	g, err := c.get(ctx, path)
	if err != nil {
		return nil, "", "", err
	}
	v := g.header.Get("ETag")
	if v == "" {
		return nil, "", "", g.errorf("expected an ETag header")
	}
	return u, path, v, nil
}

func checkETag(ctx context.Context, c *Client) error {
	_, path, _, err := c.versionedUser(ctx)
	if err != nil {
		return err
	}
	g, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	if e := g.header.Get("ETag"); e != str(g.obj, "meta", "version") {
		return g.errorf("expected the ETag header %q to equal meta.version %q", e, str(g.obj, "meta", "version"))
	}
	return nil
}

func checkIfMatchCurrent(ctx context.Context, c *Client) error {
	u, path, v, err := c.versionedUser(ctx)
	if err != nil {
		return err
	}
	body := userBody(str(u, "userName"))
	body["title"] = "Matched"
	r, err := c.send(ctx, request{method: http.MethodPut, path: path, body: body, header: map[string]string{"If-Match": v}})
	if err != nil {
		return err
	}
	if err := r.expect(http.StatusOK); err != nil {
		return err
	}
	if nv := r.header.Get("ETag"); nv == "" || nv == v {
		return r.errorf("expected a new ETag after the change, not %q", nv)
	}
	return nil
}

// staleCheck returns a check that method with If-Match holding a
// superseded version is refused with 412 and changes nothing.
func staleCheck(method string) func(context.Context, *Client) error {
	return func(ctx context.Context, c *Client) error {
		if method == http.MethodPatch {
			if err := c.require(ctx, "patch"); err != nil {
				return err
			}
		}
		u, path, stale, err := c.versionedUser(ctx)
		if err != nil {
			return err
		}
		body := userBody(str(u, "userName"))
		body["title"] = "Newer"
		r, err := c.do(ctx, http.MethodPut, path, body)
		if err != nil {
			return err
		}
		if err := r.expect(http.StatusOK); err != nil {
			return err
		}
		if r.header.Get("ETag") == stale {
			return r.errorf("expected the ETag to change after PUT")
		}
		req := request{method: method, path: path, header: map[string]string{"If-Match": stale}}
		switch method {
		case http.MethodPut:
			b := userBody(str(u, "userName"))
			b["title"] = "Stale"
			req.body = b
		case http.MethodPatch:
			req.body = patchBody(op("replace", "title", "Stale"))
		}
		r, err = c.send(ctx, req)
		if err != nil {
			return err
		}
		if err := r.expectError(http.StatusPreconditionFailed); err != nil {
			return err
		}
		g, err := c.get(ctx, path)
		if err != nil {
			return fmt.Errorf("after a refused %s: %w", method, err)
		}
		if str(g.obj, "title") != "Newer" {
			return g.errorf("expected title Newer: a refused %s must change nothing", method)
		}
		return nil
	}
}

func checkIfNoneMatch(ctx context.Context, c *Client) error {
	_, path, v, err := c.versionedUser(ctx)
	if err != nil {
		return err
	}
	r, err := c.send(ctx, request{method: http.MethodGet, path: path, header: map[string]string{"If-None-Match": v}})
	if err != nil {
		return err
	}
	if err := r.expect(http.StatusNotModified); err != nil {
		return err
	}
	r, err = c.send(ctx, request{method: http.MethodGet, path: path, header: map[string]string{"If-None-Match": `W/"scimtest-other"`}})
	if err != nil {
		return err
	}
	return r.expect(http.StatusOK)
}
