package scimtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

func groupChecks() []Check {
	return []Check{
		{Name: "create group with members returns value, display, $ref and type", Section: "RFC 7643 §4.2", Run: checkCreateGroup},
		{Name: "group with an unknown member is 400", Section: "RFC 7643 §4.2", Run: checkUnknownMember},
		{Name: "duplicate group displayName is 409 uniqueness", Section: "RFC 7644 §3.3", Run: checkDuplicateGroup},
		{Name: "filter groups by displayName eq", Section: "RFC 7644 §3.4.2.2", Run: checkFilterGroup},
		{Name: "patch adds a member", Section: "RFC 7644 §3.5.2.1", Run: checkAddMember},
		{Name: "patch removes a member by value filter", Section: "RFC 7644 §3.5.2.2", Run: checkRemoveMember},
		{Name: "patch replaces all members", Section: "RFC 7644 §3.5.2.3", Run: checkReplaceMembers},
		{Name: "excludedAttributes=members omits members", Section: "RFC 7644 §3.4.2.5", Run: checkExcludeMembers},
	}
}

// groupWithMembers creates n users and a group holding them; it returns
// the group and the users.
func (c *Client) groupWithMembers(ctx context.Context, n int) (obj, []obj, error) {
	if err := c.requireGroups(ctx); err != nil {
		return nil, nil, err
	}
	var users []obj
	var ids []string
	for i := range n {
		u, err := c.newUser(ctx, fmt.Sprintf("member%d", i))
		if err != nil {
			return nil, nil, err
		}
		users = append(users, u)
		ids = append(ids, str(u, "id"))
	}
	g, err := c.createGroup(ctx, groupBody(uniqueName("group"), ids...))
	if err != nil {
		return nil, nil, err
	}
	return g, users, nil
}

// memberIDs returns the sorted member values of group g.
func memberIDs(g obj) []string {
	return names(list(g, "members"), "value")
}

// expectMembers returns an error unless g's members are exactly users.
func expectMembers(g obj, users ...obj) error {
	want := make([]string, len(users))
	for i, u := range users {
		want[i] = str(u, "id")
	}
	return sameNames("group "+str(g, "displayName")+" members", memberIDs(g), want)
}

func checkCreateGroup(ctx context.Context, c *Client) error {
	g, users, err := c.groupWithMembers(ctx, 2)
	if err != nil {
		return err
	}
	r, err := c.get(ctx, resourcePath("/Groups", g))
	if err != nil {
		return err
	}
	if err := checkMeta(r, "Group"); err != nil {
		return err
	}
	for _, o := range []obj{g, r.obj} {
		if err := expectMembers(o, users...); err != nil {
			return r.errorf("%v", err)
		}
		for _, u := range users {
			m := member(o, str(u, "id"))
			if str(m, "display") == "" {
				return r.errorf("expected member %s to have a display", str(u, "id"))
			}
			if !strings.HasSuffix(str(m, "$ref"), "/Users/"+str(u, "id")) {
				return r.errorf("expected member %s to have a $ref ending in /Users/%s", str(u, "id"), str(u, "id"))
			}
			if str(m, "type") != "User" {
				return r.errorf("expected member %s to have type User", str(u, "id"))
			}
		}
	}
	return nil
}

func checkUnknownMember(ctx context.Context, c *Client) error {
	if err := c.requireGroups(ctx); err != nil {
		return err
	}
	u, err := c.newUser(ctx, "known")
	if err != nil {
		return err
	}
	r, err := c.do(ctx, http.MethodPost, "/Groups", groupBody(uniqueName("badmember"), str(u, "id"), uniqueName("nosuchuser")))
	if err != nil {
		return err
	}
	if r.status == http.StatusCreated && str(r.obj, "id") != "" {
		c.deleteLater(resourcePath("/Groups", r.obj))
	}
	return r.expectError(http.StatusBadRequest)
}

func checkDuplicateGroup(ctx context.Context, c *Client) error {
	if err := c.requireGroups(ctx); err != nil {
		return err
	}
	def, err := c.schemaAttribute(ctx, urnGroup, "displayName")
	if err != nil {
		return fmt.Errorf("read the Group schema: %w", err)
	}
	if u := str(def, "uniqueness"); u != "server" && u != "global" {
		return fmt.Errorf("%w: the Group schema gives displayName uniqueness %q", ErrNotAdvertised, u)
	}
	g, err := c.createGroup(ctx, groupBody(uniqueName("dupgroup")))
	if err != nil {
		return err
	}
	r, err := c.do(ctx, http.MethodPost, "/Groups", groupBody(str(g, "displayName")))
	if err != nil {
		return err
	}
	if r.status == http.StatusCreated && str(r.obj, "id") != "" {
		c.deleteLater(resourcePath("/Groups", r.obj))
	}
	return r.expectError(http.StatusConflict, "uniqueness")
}

func checkFilterGroup(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "filter"); err != nil {
		return err
	}
	g, _, err := c.groupWithMembers(ctx, 1)
	if err != nil {
		return err
	}
	if _, err := c.createGroup(ctx, groupBody(str(g, "displayName")+"-other")); err != nil {
		return err
	}
	r, res, err := c.query(ctx, "/Groups", url.Values{"filter": {`displayName eq "` + str(g, "displayName") + `"`}})
	if err != nil {
		return err
	}
	if len(res) != 1 || str(res[0], "id") != str(g, "id") {
		return r.errorf("expected exactly group %s", str(g, "id"))
	}
	return nil
}

func checkAddMember(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "patch"); err != nil {
		return err
	}
	g, users, err := c.groupWithMembers(ctx, 1)
	if err != nil {
		return err
	}
	u, err := c.newUser(ctx, "added")
	if err != nil {
		return err
	}
	after, err := c.patchOK(ctx, resourcePath("/Groups", g), op("add", "members", []any{obj{"value": str(u, "id")}}))
	if err != nil {
		return err
	}
	return expectMembers(after, users[0], u)
}

func checkRemoveMember(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "patch"); err != nil {
		return err
	}
	g, users, err := c.groupWithMembers(ctx, 3)
	if err != nil {
		return err
	}
	after, err := c.patchOK(ctx, resourcePath("/Groups", g), op("remove", `members[value eq "`+str(users[1], "id")+`"]`, nil))
	if err != nil {
		return err
	}
	return expectMembers(after, users[0], users[2])
}

func checkReplaceMembers(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "patch"); err != nil {
		return err
	}
	g, users, err := c.groupWithMembers(ctx, 2)
	if err != nil {
		return err
	}
	u, err := c.newUser(ctx, "replacement")
	if err != nil {
		return err
	}
	after, err := c.patchOK(ctx, resourcePath("/Groups", g), op("replace", "members",
		[]any{obj{"value": str(users[1], "id")}, obj{"value": str(u, "id")}}))
	if err != nil {
		return err
	}
	return expectMembers(after, users[1], u)
}

func checkExcludeMembers(ctx context.Context, c *Client) error {
	g, _, err := c.groupWithMembers(ctx, 2)
	if err != nil {
		return err
	}
	paths := []string{resourcePath("/Groups", g) + "?excludedAttributes=members"}
	if c.require(ctx, "filter") == nil {
		paths = append(paths, "/Groups?"+url.Values{
			"filter":             {`displayName eq "` + str(g, "displayName") + `"`},
			"excludedAttributes": {"members"},
		}.Encode())
	}
	var errs []error
	for _, p := range paths {
		r, err := c.get(ctx, p)
		if err != nil {
			return err
		}
		o := any(r.obj)
		if hasSchema(r.obj, urnList) {
			res := list(r.obj, "Resources")
			if len(res) != 1 {
				return r.errorf("expected exactly one group")
			}
			o = res[0]
		}
		if has(o, "members") {
			errs = append(errs, r.errorf("expected no members"))
		}
		if str(o, "displayName") != str(g, "displayName") {
			errs = append(errs, r.errorf("expected displayName %q", str(g, "displayName")))
		}
	}
	return errors.Join(errs...)
}
