package scimtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// pagingSetSize is how many users the paging and sorting checks create.
const pagingSetSize = 5

// newPagingSet creates pagingSetSize users sharing a unique prefix, in an
// order that is neither ascending nor descending, and returns the prefix
// and their userNames in ascending order.
func (c *Client) newPagingSet(ctx context.Context) (string, []string, error) {
	prefix := uniqueName("")
	var all []string
	for _, label := range []string{"n3", "n1", "n5", "n2", "n4"} {
		u, err := c.createUser(ctx, userBody(prefix+label))
		if err != nil {
			return "", nil, err
		}
		all = append(all, str(u, "userName"))
	}
	slices.Sort(all)
	return prefix, all, nil
}

// pageQuery returns the query for one page of the users named prefix*;
// startIndex or count 0 leaves the parameter out. extra holds further
// name, value pairs.
func pageQuery(prefix string, startIndex, count int, extra ...string) url.Values {
	q := url.Values{"filter": {`userName sw "` + prefix + `"`}}
	if startIndex != 0 {
		q.Set("startIndex", strconv.Itoa(startIndex))
	}
	if count != 0 {
		q.Set("count", strconv.Itoa(count))
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

func pagingChecks() []Check {
	return []Check{
		{Name: "paging with startIndex and count", Section: "RFC 7644 §3.4.2.4", Run: checkPaging},
		{Name: "count=0 returns totalResults and no Resources", Section: "RFC 7644 §3.4.2.4", Run: checkCountZero},
		{Name: "startIndex beyond the end returns an empty page", Section: "RFC 7644 §3.4.2.4", Run: checkPageBeyondEnd},
		{Name: "startIndex below 1 is treated as 1", Section: "RFC 7644 §3.4.2.4", Run: checkStartIndexBelowOne},
		{Name: "sortBy userName ascending", Section: "RFC 7644 §3.4.2.3", Run: sortCheck("", false)},
		{Name: "sortBy userName descending", Section: "RFC 7644 §3.4.2.3", Run: sortCheck("descending", true)},
	}
}

// page fetches one page and checks totalResults, itemsPerPage and
// startIndex against what is expected.
func (c *Client) page(ctx context.Context, q url.Values, total, startIndex, items int) ([]any, error) {
	r, res, err := c.query(ctx, "/Users", q)
	if err != nil {
		return nil, err
	}
	if n, _ := number(r.obj, "totalResults"); int(n) != total {
		return nil, r.errorf("expected totalResults %d", total)
	}
	if len(res) != items {
		return nil, r.errorf("expected %d Resources, got %d", items, len(res))
	}
	if n, ok := number(r.obj, "itemsPerPage"); (ok && int(n) != items) || (!ok && items > 0) {
		return nil, r.errorf("expected itemsPerPage %d, the number of Resources returned", items)
	}
	if n, ok := number(r.obj, "startIndex"); ok && int(n) != startIndex {
		return nil, r.errorf("expected startIndex %d", startIndex)
	}
	return res, nil
}

func checkPaging(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "filter"); err != nil {
		return err
	}
	prefix, all, err := c.newPagingSet(ctx)
	if err != nil {
		return err
	}
	var extra []string
	if c.require(ctx, "sort") == nil {
		extra = []string{"sortBy", "userName"}
	}
	var seen []string
	for _, pg := range []struct{ start, items int }{{1, 2}, {3, 2}, {5, 1}} {
		res, err := c.page(ctx, pageQuery(prefix, pg.start, 2, extra...), len(all), pg.start, pg.items)
		if err != nil {
			return err
		}
		for _, u := range res {
			seen = append(seen, str(u, "userName"))
		}
	}
	slices.Sort(seen)
	if !slices.Equal(seen, all) {
		return fmt.Errorf("pages of 2 from startIndex 1, 3 and 5: expected each user once %v, got %v", all, seen)
	}
	return nil
}

func checkCountZero(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "filter"); err != nil {
		return err
	}
	prefix, all, err := c.newPagingSet(ctx)
	if err != nil {
		return err
	}
	q := pageQuery(prefix, 0, 0)
	q.Set("count", "0")
	_, err = c.page(ctx, q, len(all), 1, 0)
	return err
}

func checkPageBeyondEnd(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "filter"); err != nil {
		return err
	}
	prefix, all, err := c.newPagingSet(ctx)
	if err != nil {
		return err
	}
	_, err = c.page(ctx, pageQuery(prefix, len(all)+10, 2), len(all), len(all)+10, 0)
	return err
}

func checkStartIndexBelowOne(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "filter"); err != nil {
		return err
	}
	prefix, all, err := c.newPagingSet(ctx)
	if err != nil {
		return err
	}
	q := pageQuery(prefix, 0, 2)
	q.Set("startIndex", "0")
	_, err = c.page(ctx, q, len(all), 1, 2)
	return err
}

// sortCheck returns a check that sortBy=userName with sortOrder order
// returns the users in ascending (or, with desc, descending) order.
func sortCheck(order string, desc bool) func(context.Context, *Client) error {
	return func(ctx context.Context, c *Client) error {
		if err := errors.Join(c.require(ctx, "sort"), c.require(ctx, "filter")); err != nil {
			return err
		}
		prefix, all, err := c.newPagingSet(ctx)
		if err != nil {
			return err
		}
		extra := []string{"sortBy", "userName"}
		if order != "" {
			extra = append(extra, "sortOrder", order)
		}
		r, res, err := c.query(ctx, "/Users", pageQuery(prefix, 0, 0, extra...))
		if err != nil {
			return err
		}
		want := slices.Clone(all)
		if desc {
			slices.Reverse(want)
		}
		got := make([]string, len(res))
		for i, u := range res {
			got[i] = str(u, "userName")
		}
		if !slices.Equal(got, want) {
			return r.errorf("expected userNames in order %v, got %v", want, got)
		}
		return nil
	}
}

func projectionChecks() []Check {
	return []Check{
		{Name: "attributes=userName on a list returns only id and userName", Section: "RFC 7644 §3.4.2.5", Run: checkAttributesList},
		{Name: "attributes=userName on GET by id", Section: "RFC 7644 §3.9", Run: checkAttributesGet},
		{Name: "attributes=userName on POST response", Section: "RFC 7644 §3.9", Run: checkAttributesPost},
		{Name: "excludedAttributes=emails drops emails", Section: "RFC 7644 §3.4.2.5", Run: checkExcludedAttributes},
		{Name: "excludedAttributes cannot drop id", Section: "RFC 7644 §3.4.2.5", Run: checkExcludeID},
	}
}

// onlyUserName checks a resource projected with attributes=userName: id,
// userName and schemas present (returned "always" or requested), name and
// emails absent.
func onlyUserName(r *response, o any, userName string) error {
	if str(o, "id") == "" || str(o, "userName") != userName || len(list(o, "schemas")) == 0 {
		return r.errorf("expected id, schemas and userName %q", userName)
	}
	for _, attr := range []string{"name", "emails", "displayName", "active"} {
		if has(o, attr) {
			return r.errorf("expected no %s with attributes=userName", attr)
		}
	}
	return nil
}

func checkAttributesList(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "filter"); err != nil {
		return err
	}
	u, err := c.newUser(ctx, "attrs")
	if err != nil {
		return err
	}
	r, res, err := c.query(ctx, "/Users", url.Values{
		"filter":     {`userName eq "` + str(u, "userName") + `"`},
		"attributes": {"userName"},
	})
	if err != nil {
		return err
	}
	if len(res) != 1 {
		return r.errorf("expected exactly one resource")
	}
	return onlyUserName(r, res[0], str(u, "userName"))
}

func checkAttributesGet(ctx context.Context, c *Client) error {
	u, err := c.newUser(ctx, "attrsget")
	if err != nil {
		return err
	}
	r, err := c.get(ctx, resourcePath("/Users", u)+"?attributes=userName")
	if err != nil {
		return err
	}
	return onlyUserName(r, r.obj, str(u, "userName"))
}

func checkAttributesPost(ctx context.Context, c *Client) error {
	body := userBody(uniqueName("attrspost"))
	r, err := c.do(ctx, http.MethodPost, "/Users?attributes=userName", body)
	if err != nil {
		return err
	}
	if id := str(r.obj, "id"); r.status == http.StatusCreated && id != "" {
		c.deleteLater("/Users/" + url.PathEscape(id))
	}
	if err := r.expect(http.StatusCreated); err != nil {
		return err
	}
	return onlyUserName(r, r.obj, str(body, "userName"))
}

func checkExcludedAttributes(ctx context.Context, c *Client) error {
	u, err := c.newUser(ctx, "excl")
	if err != nil {
		return err
	}
	paths := []string{resourcePath("/Users", u) + "?excludedAttributes=emails"}
	if c.require(ctx, "filter") == nil {
		paths = append(paths, "/Users?"+url.Values{
			"filter":             {`userName eq "` + str(u, "userName") + `"`},
			"excludedAttributes": {"emails"},
		}.Encode())
	}
	for _, p := range paths {
		r, err := c.get(ctx, p)
		if err != nil {
			return err
		}
		o := any(r.obj)
		if res := list(r.obj, "Resources"); len(res) == 1 {
			o = res[0]
		} else if hasSchema(r.obj, urnList) {
			return r.errorf("expected exactly one resource")
		}
		if has(o, "emails") {
			return r.errorf("expected no emails")
		}
		if str(o, "userName") != str(u, "userName") || str(o, "name", "givenName") == "" {
			return r.errorf("expected userName and name still returned")
		}
	}
	return nil
}

func checkExcludeID(ctx context.Context, c *Client) error {
	u, err := c.newUser(ctx, "exclid")
	if err != nil {
		return err
	}
	r, err := c.get(ctx, resourcePath("/Users", u)+"?excludedAttributes=id")
	if err != nil {
		return err
	}
	if str(r.obj, "id") != str(u, "id") {
		return r.errorf("expected id, which is returned always, despite excludedAttributes=id")
	}
	return nil
}
