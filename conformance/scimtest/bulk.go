package scimtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func bulkChecks() []Check {
	return []Check{
		{Name: "bulk POST and PATCH resolve a bulkId reference", Section: "RFC 7644 §3.7.2", Run: checkBulkReference},
		{Name: "bulk failOnErrors 1 stops after the first error", Section: "RFC 7644 §3.7.3", Run: checkBulkFailOnErrors},
		{Name: "bulk with more than maxOperations is 413", Section: "RFC 7644 §3.7.4", Run: checkBulkMaxOperations},
		{Name: "bulk above maxPayloadSize is 413", Section: "RFC 7644 §3.7.4", Run: checkBulkMaxPayload},
	}
}

// bulkBody wraps operations in a BulkRequest (RFC 7644 §3.7); failOnErrors
// 0 leaves it out.
func bulkBody(failOnErrors int, ops ...obj) obj {
	l := make([]any, len(ops))
	for i, o := range ops {
		l[i] = o
	}
	b := obj{"schemas": []any{urnBulkRequest}, "Operations": l}
	if failOnErrors > 0 {
		b["failOnErrors"] = failOnErrors
	}
	return b
}

// bulkResponse checks that r is a 200 BulkResponse and returns its
// operation results.
func bulkResponse(r *response) ([]any, error) {
	if err := r.expect(http.StatusOK); err != nil {
		return nil, err
	}
	if !hasSchema(r.obj, urnBulkResponse) {
		return nil, r.errorf("expected a BulkResponse (schemas holding %q)", urnBulkResponse)
	}
	return list(r.obj, "Operations"), nil
}

// bulkStatus returns the HTTP status of one operation result. RFC 7644
// §3.7 gives it as a string; a number is accepted too.
func bulkStatus(o any) int {
	switch s := lookup(o, "status").(type) {
	case string:
		n, _ := strconv.Atoi(s)
		return n
	case float64:
		return int(s)
	}
	return 0
}

// bulkResult returns the operation result with the given bulkId or, when
// bulkID is "", the one for method.
func bulkResult(results []any, bulkID, method string) any {
	for _, o := range results {
		if bulkID != "" && str(o, "bulkId") == bulkID {
			return o
		}
		if bulkID == "" && strings.EqualFold(str(o, "method"), method) {
			return o
		}
	}
	return nil
}

// findUser returns the users whose userName is userName, deleting them
// at Close.
func (c *Client) findUser(ctx context.Context, userName string) ([]any, error) {
	_, res, err := c.query(ctx, "/Users", url.Values{"filter": {`userName eq "` + userName + `"`}})
	if err != nil {
		return nil, err
	}
	for _, u := range res {
		if id := str(u, "id"); id != "" {
			c.deleteLater("/Users/" + url.PathEscape(id))
		}
	}
	return res, nil
}

func checkBulkReference(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "bulk"); err != nil {
		return err
	}
	if err := c.requireGroups(ctx); err != nil {
		return err
	}
	if err := c.require(ctx, "patch"); err != nil {
		return err
	}
	g, err := c.createGroup(ctx, groupBody(uniqueName("bulkgroup")))
	if err != nil {
		return err
	}
	userName := uniqueName("bulkuser")
	r, err := c.do(ctx, http.MethodPost, "/Bulk", bulkBody(0,
		obj{"method": "POST", "path": "/Users", "bulkId": "scimtest1", "data": userBody(userName)},
		obj{"method": "PATCH", "path": resourcePath("/Groups", g), "data": patchBody(
			op("add", "members", []any{obj{"value": "bulkId:scimtest1"}}))},
	))
	if err != nil {
		return err
	}
	results, err := bulkResponse(r)
	post := bulkResult(results, "scimtest1", "")
	loc := str(post, "location")
	id := loc[strings.LastIndex(loc, "/")+1:]
	if id != "" {
		c.deleteLater("/Users/" + id)
	}
	if err != nil {
		return err
	}
	if bulkStatus(post) != http.StatusCreated || !strings.Contains(loc, "/Users/") {
		return r.errorf("expected the POST result (bulkId scimtest1) with status 201 and a location holding /Users/")
	}
	if p := bulkResult(results, "", "PATCH"); bulkStatus(p) != http.StatusOK && bulkStatus(p) != http.StatusNoContent {
		return r.errorf("expected the PATCH result with status 200 or 204")
	}
	u, err := c.get(ctx, "/Users/"+id)
	if err != nil {
		return err
	}
	if str(u.obj, "userName") != userName {
		return u.errorf("expected the user the bulk POST created, %q", userName)
	}
	after, err := c.get(ctx, resourcePath("/Groups", g))
	if err != nil {
		return err
	}
	if ids := memberIDs(after.obj); len(ids) != 1 || ids[0] != id {
		return after.errorf("expected the group's only member to be %s, the id bulkId:scimtest1 stood for", id)
	}
	return nil
}

func checkBulkFailOnErrors(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "bulk"); err != nil {
		return err
	}
	bad := userBody("ignored")
	delete(bad, "userName")
	good := uniqueName("bulkafter")
	r, err := c.do(ctx, http.MethodPost, "/Bulk", bulkBody(1,
		obj{"method": "POST", "path": "/Users", "bulkId": "scimtestbad", "data": bad},
		obj{"method": "POST", "path": "/Users", "bulkId": "scimtestgood", "data": userBody(good)},
	))
	if err != nil {
		return err
	}
	var found []any
	if c.require(ctx, "filter") == nil {
		if found, err = c.findUser(ctx, good); err != nil {
			return err
		}
	}
	results, err := bulkResponse(r)
	if err != nil {
		return err
	}
	if s := bulkStatus(bulkResult(results, "scimtestbad", "")); s != http.StatusBadRequest {
		return r.errorf("expected the first operation's result with status 400, got %d", s)
	}
	if bulkResult(results, "scimtestgood", "") != nil || len(found) != 0 {
		return r.errorf("expected the operation after the first error not to run")
	}
	return nil
}

func checkBulkMaxOperations(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "bulk"); err != nil {
		return err
	}
	spc, err := c.serviceProviderConfig(ctx)
	if err != nil {
		return err
	}
	limit, ok := number(spc, "bulk", "maxOperations")
	if !ok || limit < 1 || limit > 1e6 {
		return fmt.Errorf("GET /ServiceProviderConfig: expected bulk.maxOperations between 1 and 1000000, got %v", lookup(spc, "bulk", "maxOperations"))
	}
	// Deleting users that do not exist is harmless should the server run
	// the operations after all.
	ops := make([]obj, int(limit)+1)
	for i := range ops {
		ops[i] = obj{"method": "DELETE", "path": "/Users/" + uniqueName("nosuchuser")}
	}
	r, err := c.do(ctx, http.MethodPost, "/Bulk", bulkBody(0, ops...))
	if err != nil {
		return err
	}
	return r.expectError(http.StatusRequestEntityTooLarge)
}

func checkBulkMaxPayload(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "bulk"); err != nil {
		return err
	}
	spc, err := c.serviceProviderConfig(ctx)
	if err != nil {
		return err
	}
	limit, ok := number(spc, "bulk", "maxPayloadSize")
	if !ok || limit < 1 || limit > 256<<20 {
		return fmt.Errorf("GET /ServiceProviderConfig: expected bulk.maxPayloadSize between 1 and 256 MiB, got %v", lookup(spc, "bulk", "maxPayloadSize"))
	}
	small, err := json.Marshal(bulkBody(0, obj{"method": "DELETE", "path": "/Users/" + uniqueName("nosuchuser")}))
	if err != nil {
		return err
	}
	// Valid JSON, one harmless operation, padded with whitespace to one
	// byte over the limit.
	body := append(bytes.Repeat([]byte(" "), max(int(limit)+1-len(small), 0)), small...)
	r, err := c.do(ctx, http.MethodPost, "/Bulk", body)
	if err != nil {
		return err
	}
	return r.expectError(http.StatusRequestEntityTooLarge)
}
