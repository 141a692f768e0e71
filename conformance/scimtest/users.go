package scimtest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

func createChecks() []Check {
	return []Check{
		{Name: "create user returns 201 with Location, meta and ETag", Section: "RFC 7644 §3.3", Run: checkCreateUser},
		{Name: "password is never returned", Section: "RFC 7643 §4.1.1", Run: checkPasswordNotReturned},
		{Name: "duplicate userName is 409 uniqueness", Section: "RFC 7644 §3.3", Run: checkDuplicateUserName},
		{Name: "userName differing only in case is 409 uniqueness", Section: "RFC 7643 §4.1.1", Run: checkDuplicateUserNameCase},
		{Name: "user without userName is 400 invalidValue", Section: "RFC 7644 §3.3", Run: checkMissingUserName},
		{Name: "malformed JSON is 400 invalidSyntax", Section: "RFC 7644 §3.12", Run: checkMalformedJSON},
		{Name: "unknown attribute is rejected with 400 or ignored", Section: "RFC 7644 §3.3", Run: checkUnknownAttribute},
		{Name: "attribute of the wrong type is 400", Section: "RFC 7644 §3.12", Run: checkWrongType},
		{Name: "enterprise extension round-trips", Section: "RFC 7643 §4.3", Run: checkEnterprise},
	}
}

func checkCreateUser(ctx context.Context, c *Client) error {
	body := userBody(uniqueName("create"))
	body["password"] = "Sc1m-test-secret!"
	r, err := c.do(ctx, http.MethodPost, "/Users", body)
	if err != nil {
		return err
	}
	if id := str(r.obj, "id"); r.status == http.StatusCreated && id != "" {
		c.deleteLater("/Users/" + url.PathEscape(id))
	}
	if err := r.expect(http.StatusCreated); err != nil {
		return err
	}
	if str(r.obj, "id") == "" {
		return r.errorf("expected an id assigned by the server")
	}
	if str(r.obj, "userName") != body["userName"] {
		return r.errorf("expected userName %q", body["userName"])
	}
	loc := r.header.Get("Location")
	if loc == "" {
		return r.errorf("expected a Location header")
	}
	if got := str(r.obj, "meta", "location"); got != loc {
		return r.errorf("expected meta.location %q to equal the Location header %q", got, loc)
	}
	if !strings.HasSuffix(loc, "/Users/"+str(r.obj, "id")) {
		return r.errorf("expected Location %q to end with /Users/{id}", loc)
	}
	if err := checkMeta(r, "User"); err != nil {
		return err
	}
	if has(r.obj, "password") {
		return r.errorf("expected no password in the response")
	}
	g, err := c.get(ctx, loc)
	if err != nil {
		return err
	}
	if str(g.obj, "id") != str(r.obj, "id") {
		return g.errorf("expected GET Location to return id %q", str(r.obj, "id"))
	}
	return nil
}

// checkMeta checks the meta attribute of a single-resource response (RFC
// 7643 §3.1) and that the ETag header equals meta.version (RFC 7644
// §3.14).
func checkMeta(r *response, resourceType string) error {
	if got := str(r.obj, "meta", "resourceType"); got != resourceType {
		return r.errorf("expected meta.resourceType %q, not %q", resourceType, got)
	}
	for _, attr := range []string{"created", "lastModified"} {
		if _, err := time.Parse(time.RFC3339Nano, str(r.obj, "meta", attr)); err != nil {
			return r.errorf("expected meta.%s as an RFC 3339 dateTime", attr)
		}
	}
	v := str(r.obj, "meta", "version")
	if v == "" {
		return r.errorf("expected meta.version")
	}
	if e := r.header.Get("ETag"); e != v {
		return r.errorf("expected the ETag header %q to equal meta.version %q", e, v)
	}
	return nil
}

func checkPasswordNotReturned(ctx context.Context, c *Client) error {
	body := userBody(uniqueName("password"))
	body["password"] = "Sc1m-test-secret!"
	u, err := c.createUser(ctx, body)
	if err != nil {
		return err
	}
	path := resourcePath("/Users", u)
	for _, p := range []string{path, path + "?attributes=password", "/Users?filter=" + url.QueryEscape(`userName eq "`+str(u, "userName")+`"`)} {
		r, err := c.get(ctx, p)
		if err != nil {
			return err
		}
		if strings.Contains(strings.ToLower(string(r.body)), `"password"`) {
			return r.errorf("expected no password attribute")
		}
	}
	return nil
}

func checkDuplicateUserName(ctx context.Context, c *Client) error {
	u, err := c.newUser(ctx, "dup")
	if err != nil {
		return err
	}
	return createConflict(ctx, c, str(u, "userName"))
}

func checkDuplicateUserNameCase(ctx context.Context, c *Client) error {
	u, err := c.newUser(ctx, "dupcase")
	if err != nil {
		return err
	}
	return createConflict(ctx, c, strings.ToUpper(str(u, "userName")))
}

// createConflict creates a user called userName and expects 409
// uniqueness.
func createConflict(ctx context.Context, c *Client, userName string) error {
	r, err := c.do(ctx, http.MethodPost, "/Users", userBody(userName))
	if err != nil {
		return err
	}
	if r.status == http.StatusCreated && str(r.obj, "id") != "" {
		c.deleteLater("/Users/" + url.PathEscape(str(r.obj, "id")))
	}
	return r.expectError(http.StatusConflict, "uniqueness")
}

// postUserRejected POSTs body to /Users, deletes whatever got created by
// mistake, and returns the response.
func postUserRejected(ctx context.Context, c *Client, body any) (*response, error) {
	r, err := c.do(ctx, http.MethodPost, "/Users", body)
	if err != nil {
		return nil, err
	}
	if r.status == http.StatusCreated && str(r.obj, "id") != "" {
		c.deleteLater("/Users/" + url.PathEscape(str(r.obj, "id")))
	}
	return r, nil
}

func checkMissingUserName(ctx context.Context, c *Client) error {
	body := userBody("ignored")
	delete(body, "userName")
	r, err := postUserRejected(ctx, c, body)
	if err != nil {
		return err
	}
	return r.expectError(http.StatusBadRequest, "invalidValue")
}

func checkMalformedJSON(ctx context.Context, c *Client) error {
	body := []byte(`{"schemas":["` + urnUser + `"],"userName":"` + uniqueName("malformed") + `",`)
	r, err := postUserRejected(ctx, c, body)
	if err != nil {
		return err
	}
	return r.expectError(http.StatusBadRequest, "invalidSyntax")
}

func checkUnknownAttribute(ctx context.Context, c *Client) error {
	body := userBody(uniqueName("unknown"))
	body["scimtestNoSuchAttribute"] = "x"
	r, err := postUserRejected(ctx, c, body)
	if err != nil {
		return err
	}
	if r.status == http.StatusCreated {
		return nil
	}
	return r.expectError(http.StatusBadRequest, "invalidSyntax", "invalidValue")
}

func checkWrongType(ctx context.Context, c *Client) error {
	body := userBody(uniqueName("wrongtype"))
	body["active"] = 5
	r, err := postUserRejected(ctx, c, body)
	if err != nil {
		return err
	}
	return r.expectError(http.StatusBadRequest)
}

func checkEnterprise(ctx context.Context, c *Client) error {
	if err := c.requireEnterprise(ctx); err != nil {
		return err
	}
	mgr, err := c.newUser(ctx, "manager")
	if err != nil {
		return err
	}
	body := userBody(uniqueName("employee"))
	body["schemas"] = []any{urnUser, urnEnterprise}
	body[urnEnterprise] = obj{
		"employeeNumber": "E-4711",
		"department":     "Scimtest",
		"manager":        obj{"value": str(mgr, "id")},
	}
	u, err := c.createUser(ctx, body)
	if err != nil {
		return err
	}
	g, err := c.get(ctx, resourcePath("/Users", u))
	if err != nil {
		return err
	}
	for _, o := range []obj{u, g.obj} {
		if !hasSchema(o, urnEnterprise) {
			return g.errorf("expected schemas to hold %q", urnEnterprise)
		}
		if got := str(o, urnEnterprise, "employeeNumber"); got != "E-4711" {
			return g.errorf("expected employeeNumber E-4711, got %q", got)
		}
		if got := str(o, urnEnterprise, "manager", "value"); got != str(mgr, "id") {
			return g.errorf("expected manager.value %q, got %q", str(mgr, "id"), got)
		}
	}
	return nil
}

func readChecks() []Check {
	return []Check{
		{Name: "get user by id", Section: "RFC 7644 §3.4.1", Run: checkGetUser},
		{Name: "unknown id is 404 with a SCIM error", Section: "RFC 7644 §3.4.1", Run: checkGetUnknown},
	}
}

func checkGetUser(ctx context.Context, c *Client) error {
	u, err := c.newUser(ctx, "get")
	if err != nil {
		return err
	}
	r, err := c.get(ctx, resourcePath("/Users", u))
	if err != nil {
		return err
	}
	if str(r.obj, "id") != str(u, "id") || str(r.obj, "userName") != str(u, "userName") {
		return r.errorf("expected id %q and userName %q", str(u, "id"), str(u, "userName"))
	}
	if !hasSchema(r.obj, urnUser) {
		return r.errorf("expected schemas to hold %q", urnUser)
	}
	if str(r.obj, "name", "givenName") != "Scim" {
		return r.errorf("expected name.givenName Scim as created")
	}
	return checkMeta(r, "User")
}

func checkGetUnknown(ctx context.Context, c *Client) error {
	r, err := c.do(ctx, http.MethodGet, "/Users/"+uniqueName("missing"), nil)
	if err != nil {
		return err
	}
	return r.expectError(http.StatusNotFound)
}
