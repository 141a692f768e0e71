package scimtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

func errorChecks() []Check {
	const s = "RFC 7644 §3.12"
	return []Check{
		{Name: "error responses carry the Error schema and status as a string", Section: s, Run: checkErrorBodies},
		{Name: "unknown endpoint is 404", Section: s, Run: checkUnknownEndpoint},
		{Name: "huge request body is 413", Section: s, Run: checkHugeBody},
		{Name: "unsupported method is 405 or 501", Section: s, Run: checkUnsupportedMethod},
	}
}

func checkErrorBodies(ctx context.Context, c *Client) error {
	type errReq struct {
		request
		status   int
		scimType string
	}
	reqs := []errReq{
		{request{method: http.MethodGet, path: "/Users/" + uniqueName("missing")}, http.StatusNotFound, ""},
		{request{method: http.MethodDelete, path: "/Users/" + uniqueName("missing")}, http.StatusNotFound, ""},
		{request{method: http.MethodPost, path: "/Users", body: []byte(`{"userName":`)}, http.StatusBadRequest, "invalidSyntax"},
		{request{method: http.MethodPost, path: "/Users", body: obj{"schemas": []any{urnUser}}}, http.StatusBadRequest, "invalidValue"},
	}
	if c.require(ctx, "filter") == nil {
		reqs = append(reqs, errReq{request{method: http.MethodGet, path: "/Users?filter=" + url.QueryEscape(`userName zz "x"`)}, http.StatusBadRequest, "invalidFilter"})
	}
	for _, req := range reqs {
		r, err := c.send(ctx, req.request)
		if err != nil {
			return err
		}
		if r.status == http.StatusCreated && str(r.obj, "id") != "" {
			c.deleteLater(resourcePath("/Users", r.obj))
		}
		var types []string
		if req.scimType != "" {
			types = append(types, req.scimType)
		}
		if err := r.expectError(req.status, types...); err != nil {
			return err
		}
	}
	return nil
}

func checkUnknownEndpoint(ctx context.Context, c *Client) error {
	r, err := c.do(ctx, http.MethodGet, "/ScimtestNoSuchEndpoint", nil)
	if err != nil {
		return err
	}
	return r.expectError(http.StatusNotFound)
}

// hugeBodySize is comfortably above any sensible limit on a single SCIM
// resource.
const hugeBodySize = 16 << 20

func checkHugeBody(ctx context.Context, c *Client) error {
	// A valid user whose nickName runs to 16 MiB: only its size is
	// wrong with it.
	body := userBody(uniqueName("huge"))
	head, err := json.Marshal(body)
	if err != nil {
		return err
	}
	pad := bytes.Repeat([]byte("x"), hugeBodySize)
	data := append(head[:len(head)-1:len(head)-1], []byte(`,"nickName":"`)...)
	data = append(append(data, pad...), '"', '}')
	r, err := postUserRejected(ctx, c, data)
	if err != nil {
		return err
	}
	return r.expectError(http.StatusRequestEntityTooLarge)
}

func checkUnsupportedMethod(ctx context.Context, c *Client) error {
	for _, req := range []request{
		{method: http.MethodPut, path: "/Users", body: userBody(uniqueName("putcollection"))},
		{method: http.MethodDelete, path: "/ServiceProviderConfig"},
		{method: http.MethodPatch, path: "/Schemas", body: patchBody(op("remove", "attributes", nil))},
	} {
		r, err := c.send(ctx, req)
		if err != nil {
			return err
		}
		if r.status != http.StatusMethodNotAllowed && r.status != http.StatusNotImplemented {
			return r.errorf("expected status 405 or 501")
		}
		if err := r.checkErrorBody(); err != nil {
			return err
		}
	}
	return nil
}
