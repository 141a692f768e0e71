package scimtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

func authChecks() []Check {
	return []Check{
		{Name: "request without a token is 401 with WWW-Authenticate", Section: "RFC 7644 §2", Run: checkNoToken},
		{Name: "request with a wrong token is 401 with WWW-Authenticate", Section: "RFC 7644 §2", Run: checkWrongToken},
	}
}

func checkNoToken(ctx context.Context, c *Client) error {
	none := ""
	return unauthorized(ctx, c, &none)
}

func checkWrongToken(ctx context.Context, c *Client) error {
	wrong := "scimtest-wrong-" + uniqueName("token")
	return unauthorized(ctx, c, &wrong)
}

// unauthorized lists users with token and expects 401 with a challenge.
func unauthorized(ctx context.Context, c *Client, token *string) error {
	r, err := c.send(ctx, request{method: http.MethodGet, path: "/Users", token: token})
	if err != nil {
		return err
	}
	if err := r.expectError(http.StatusUnauthorized); err != nil {
		return err
	}
	if r.header.Get("WWW-Authenticate") == "" {
		return r.errorf("expected a WWW-Authenticate header")
	}
	return nil
}

func discoveryChecks() []Check {
	return []Check{
		{Name: "ServiceProviderConfig describes every feature", Section: "RFC 7644 §4, RFC 7643 §5", Run: checkServiceProviderConfig},
		{Name: "ResourceTypes lists User and Group", Section: "RFC 7644 §4, RFC 7643 §6", Run: checkResourceTypes},
		{Name: "ResourceTypes User by id", Section: "RFC 7644 §4, RFC 7643 §6", Run: checkResourceTypeUser},
		{Name: "Schemas lists the User, Group and enterprise schemas", Section: "RFC 7644 §4, RFC 7643 §7", Run: checkSchemas},
		{Name: "Schemas User by URN defines every attribute", Section: "RFC 7644 §4, RFC 7643 §7", Run: schemaCheck(urnUser, "userName", "name", "emails", "active", "password")},
		{Name: "Schemas Group by URN defines every attribute", Section: "RFC 7644 §4, RFC 7643 §7", Run: schemaCheck(urnGroup, "displayName", "members")},
		{Name: "Schemas enterprise User by URN defines every attribute", Section: "RFC 7644 §4, RFC 7643 §7", Run: schemaCheck(urnEnterprise, "employeeNumber", "manager")},
	}
}

func checkServiceProviderConfig(ctx context.Context, c *Client) error {
	r, err := c.get(ctx, "/ServiceProviderConfig")
	if err != nil {
		return err
	}
	if !hasSchema(r.obj, urnSPC) {
		return r.errorf("expected schemas to hold %q", urnSPC)
	}
	for _, feature := range []string{"patch", "bulk", "filter", "changePassword", "sort", "etag"} {
		if _, ok := lookup(r.obj, feature, "supported").(bool); !ok {
			return r.errorf("expected %s.supported as a boolean", feature)
		}
	}
	for _, path := range [][]string{{"bulk", "maxOperations"}, {"bulk", "maxPayloadSize"}, {"filter", "maxResults"}} {
		if _, ok := number(r.obj, path...); !ok {
			return r.errorf("expected %s as a number", strings.Join(path, "."))
		}
	}
	schemes := list(r.obj, "authenticationSchemes")
	if len(schemes) == 0 {
		return r.errorf("expected authenticationSchemes to list at least one scheme")
	}
	for i, s := range schemes {
		for _, attr := range []string{"type", "name", "description"} {
			if str(s, attr) == "" {
				return r.errorf("expected authenticationSchemes[%d].%s", i, attr)
			}
		}
	}
	return nil
}

func checkResourceTypes(ctx context.Context, c *Client) error {
	r, err := c.do(ctx, http.MethodGet, "/ResourceTypes", nil)
	if err != nil {
		return err
	}
	res, err := listResponse(r)
	if err != nil {
		return err
	}
	found := map[string]bool{}
	for i, t := range res {
		if !hasSchema(t, urnResourceType) {
			return r.errorf("expected Resources[%d].schemas to hold %q", i, urnResourceType)
		}
		for _, attr := range []string{"name", "endpoint", "schema"} {
			if str(t, attr) == "" {
				return r.errorf("expected Resources[%d].%s", i, attr)
			}
		}
		found[str(t, "name")+" "+str(t, "endpoint")+" "+str(t, "schema")] = true
	}
	for _, want := range []string{"User /Users " + urnUser, "Group /Groups " + urnGroup} {
		if !found[want] {
			return r.errorf("expected a resource type with name, endpoint and schema %q", want)
		}
	}
	return nil
}

func checkResourceTypeUser(ctx context.Context, c *Client) error {
	r, err := c.get(ctx, "/ResourceTypes/User")
	if err != nil {
		return err
	}
	if str(r.obj, "name") != "User" || str(r.obj, "endpoint") != "/Users" || str(r.obj, "schema") != urnUser {
		return r.errorf("expected name User, endpoint /Users and schema %s", urnUser)
	}
	return nil
}

func checkSchemas(ctx context.Context, c *Client) error {
	r, err := c.do(ctx, http.MethodGet, "/Schemas", nil)
	if err != nil {
		return err
	}
	res, err := listResponse(r)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, s := range res {
		ids[str(s, "id")] = true
	}
	want := []string{urnUser, urnGroup}
	if err := c.requireEnterprise(ctx); err == nil {
		want = append(want, urnEnterprise)
	} else if !errors.Is(err, ErrNotAdvertised) {
		return err
	}
	for _, urn := range want {
		if !ids[urn] {
			return r.errorf("expected a schema with id %q", urn)
		}
	}
	return nil
}

// schemaCheck returns a check that GET /Schemas/{urn} answers the schema
// with at least the named attributes, and that every attribute and
// sub-attribute carries the characteristics RFC 7643 §7 lists.
func schemaCheck(urn string, attrs ...string) func(context.Context, *Client) error {
	return func(ctx context.Context, c *Client) error {
		if urn == urnEnterprise {
			if err := c.requireEnterprise(ctx); err != nil {
				return err
			}
		}
		r, err := c.get(ctx, "/Schemas/"+urn)
		if err != nil {
			return err
		}
		if str(r.obj, "id") != urn {
			return r.errorf("expected id %q", urn)
		}
		defined := list(r.obj, "attributes")
		for _, name := range attrs {
			found := false
			for _, a := range defined {
				found = found || strings.EqualFold(str(a, "name"), name)
			}
			if !found {
				return r.errorf("expected an attribute named %q", name)
			}
		}
		if err := attributeDefinitions(defined, ""); err != nil {
			return r.errorf("%v", err)
		}
		return nil
	}
}

// attributeDefinitions checks that every attribute in defs, and every
// sub-attribute below, has name, type, multiValued, mutability and
// returned (RFC 7643 §7).
func attributeDefinitions(defs []any, parent string) error {
	for i, a := range defs {
		name := str(a, "name")
		where := fmt.Sprintf("%sattributes[%d] %q", parent, i, name)
		if name == "" {
			return fmt.Errorf("expected %s to have a name", where)
		}
		for _, attr := range []string{"type", "mutability", "returned"} {
			if str(a, attr) == "" {
				return fmt.Errorf("expected %s to have %s", where, attr)
			}
		}
		if _, ok := lookup(a, "multiValued").(bool); !ok {
			return fmt.Errorf("expected %s to have multiValued as a boolean", where)
		}
		if err := attributeDefinitions(list(a, "subAttributes"), name+"."); err != nil {
			return err
		}
	}
	return nil
}
