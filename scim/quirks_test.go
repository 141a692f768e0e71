package scim_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// These tests replay the request shapes real SCIM clients send, end to
// end through the handler and the store. The shapes follow each vendor's
// published SCIM documentation (cited per test).

// Entra ID: https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
func TestQuirkEntraID(t *testing.T) {
	s := newTestServer(t)
	create := `{
	  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	  "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
	  "userName": "Test_User_ab6490ee@testuser.com",
	  "active": "True",
	  "emails": [{"primary": "True", "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
	  "meta": {"resourceType": "User"},
	  "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
	  "roles": [],
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "department": "Tour Operations"}
	}`
	r := s.do("POST", "/Users", create).must(t, 201)
	id := r.str("id")
	if r.Body["active"] != true {
		t.Fatalf("active = %v, want true (from the string \"True\")", r.Body["active"])
	}

	t.Run("ReplaceActiveWithBooleanString", func(t *testing.T) {
		s.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		  "Operations":[{"op":"Replace","path":"active","value":"False"}]}`).must(t, 200)
		if got := s.do("GET", "/Users/"+id, nil).must(t, 200).Body["active"]; got != false {
			t.Fatalf("active = %v, want false", got)
		}
		u, err := s.Store.GetUser(t.Context(), id)
		if err != nil || u.Active {
			t.Fatalf("stored user active=%v err=%v, want suspended", u.Active, err)
		}
	})

	t.Run("ReplaceWithoutPathObjectValue", func(t *testing.T) {
		s.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		  "Operations":[{"op":"Replace","value":{"active":"True","displayName":"Entra Renamed","name.givenName":"Barbara",
		    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Finance"}}]}`).must(t, 200)
		got := s.do("GET", "/Users/"+id, nil).must(t, 200)
		if got.Body["active"] != true || got.Body["displayName"] != "Entra Renamed" {
			t.Fatalf("after replace: %s", got.Raw)
		}
		if gn := got.Body["name"].(map[string]any)["givenName"]; gn != "Barbara" {
			t.Fatalf("name.givenName = %v", gn)
		}
		ent := got.Body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
		if ent["department"] != "Finance" || ent["employeeNumber"] != "701984" {
			t.Fatalf("enterprise = %v", ent)
		}
	})

	u2 := s.createUser("entra-two", nil)
	g := s.createGroup("Entra Group")
	t.Run("AddMembersCapitalisedOp", func(t *testing.T) {
		s.do("PATCH", "/Groups/"+g, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		  "Operations":[{"op":"Add","path":"members","value":[{"value":%q},{"value":%q}]}]}`, id, u2)).must(t, 204)
		if got := s.memberIDs(g); len(got) != 2 {
			t.Fatalf("members = %v, want 2", got)
		}
	})
	t.Run("RedundantAddOfExistingMember", func(t *testing.T) {
		s.do("PATCH", "/Groups/"+g, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		  "Operations":[{"op":"Add","path":"members","value":[{"value":%q}]}]}`, id)).must(t, 204)
		if got := s.memberIDs(g); len(got) != 2 {
			t.Fatalf("members = %v, want still 2", got)
		}
	})
	t.Run("RemoveMembersWithValueList", func(t *testing.T) {
		s.do("PATCH", "/Groups/"+g, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		  "Operations":[{"op":"Remove","path":"members","value":[{"value":%q}]}]}`, id)).must(t, 204)
		if got := s.memberIDs(g); !slices.Equal(got, []string{u2}) {
			t.Fatalf("members = %v, want [%s]", got, u2)
		}
	})
	t.Run("FilterGroupExcludingMembers", func(t *testing.T) {
		r := s.do("GET", `/Groups?excludedAttributes=members&filter=displayName+eq+%22Entra+Group%22`, nil).must(t, 200)
		res := r.Body["Resources"].([]any)
		if len(res) != 1 {
			t.Fatalf("resources = %d, want 1", len(res))
		}
		if _, has := res[0].(map[string]any)["members"]; has {
			t.Fatal("members returned despite excludedAttributes=members")
		}
	})
}

// Okta: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
func TestQuirkOkta(t *testing.T) {
	s := newTestServer(t)
	id := s.createUser("okta.user@example.com", map[string]any{"externalId": "00u1abcd"})
	t.Run("PutProfilePushWithIdAndMeta", func(t *testing.T) {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":%q,
		  "userName":"okta.user@example.com","name":{"givenName":"Okta","familyName":"Pushed"},
		  "emails":[{"primary":true,"value":"okta.user@example.com","type":"work"}],
		  "displayName":"Okta Pushed","locale":"en-US","externalId":"00u1abcd","groups":[],"password":"not-stored-1A!",
		  "active":true,"meta":{"resourceType":"User"}}`, id)
		r := s.do("PUT", "/Users/"+id, body).must(t, 200)
		if r.Body["displayName"] != "Okta Pushed" {
			t.Fatalf("displayName = %v", r.Body["displayName"])
		}
		if _, has := r.Body["password"]; has {
			t.Fatal("password returned")
		}
		u, _ := s.Store.GetUser(t.Context(), id)
		if strings.Contains(string(u.Attributes), "not-stored") {
			t.Fatal("password was stored")
		}
	})
	t.Run("PatchValueCarriesIdDeactivates", func(t *testing.T) {
		s.do("PATCH", "/Users/"+id, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		  "Operations":[{"op":"replace","value":{"id":%q,"active":false}}]}`, id)).must(t, 200)
		u, _ := s.Store.GetUser(t.Context(), id)
		if u.Active {
			t.Fatal("user still active after Okta's deactivation PATCH")
		}
		// Okta deactivates instead of deleting: the user is still there.
		s.do("GET", "/Users/"+id, nil).must(t, 200)
	})
	t.Run("GroupPushAddAndRemoveByFilter", func(t *testing.T) {
		g := s.createGroup("Okta Push")
		s.do("PATCH", "/Groups/"+g, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		  "Operations":[{"op":"add","path":"members","value":[{"value":%q,"display":"okta.user@example.com"}]}]}`, id)).must(t, 204)
		if got := s.memberIDs(g); !slices.Equal(got, []string{id}) {
			t.Fatalf("members = %v", got)
		}
		s.do("PATCH", "/Groups/"+g, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		  "Operations":[{"op":"remove","path":"members[value eq \"%s\"]"}]}`, id)).must(t, 204)
		if got := s.memberIDs(g); len(got) != 0 {
			t.Fatalf("members = %v, want none", got)
		}
	})
}

// Keycloak SCIM client plugins (libre.sh keycloak-scim, GroupAdapter) PUT
// whole groups with their full member list. `active` as a string is
// covered defensively: the issue lists it for Keycloak set-ups.
func TestQuirkKeycloak(t *testing.T) {
	s := newTestServer(t)
	a := s.createUser("kc-a", nil)
	b := s.createUser("kc-b", nil)
	c := s.createUser("kc-c", nil)
	t.Run("ActiveAsString", func(t *testing.T) {
		r := s.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"kc-str","active":"false",
		  "name":{"givenName":"K","familyName":"C"}}`).must(t, 201)
		if r.Body["active"] != false {
			t.Fatalf("active = %v, want false", r.Body["active"])
		}
	})
	t.Run("PutWholeGroupWithFullMemberList", func(t *testing.T) {
		g := s.createGroup("kc-group", a, b)
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":%q,"displayName":"kc-group",
		  "members":[{"value":%q,"display":"kc-b"},{"value":%q,"display":"kc-c"}]}`, g, b, c)
		s.do("PUT", "/Groups/"+g, body).must(t, 200)
		got := s.memberIDs(g)
		want := []string{b, c}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("members = %v, want %v", got, want)
		}
	})
}

// authentik sends member changes as value lists on the members path
// (authentik's SCIM provider, providers/scim/clients/groups.py).
func TestQuirkAuthentik(t *testing.T) {
	s := newTestServer(t)
	a := s.createUser("ak-a", nil)
	b := s.createUser("ak-b", nil)
	g := s.createGroup("ak-group")
	s.do("PATCH", "/Groups/"+g, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
	  "Operations":[{"op":"add","path":"members","value":[{"value":%q},{"value":%q}]}]}`, a, b)).must(t, 204)
	s.do("PATCH", "/Groups/"+g, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
	  "Operations":[{"op":"remove","path":"members","value":[{"value":%q}]}]}`, a)).must(t, 204)
	if got := s.memberIDs(g); !slices.Equal(got, []string{b}) {
		t.Fatalf("members = %v, want [%s]", got, b)
	}
}

func TestUnknownMemberIsAnError(t *testing.T) {
	s := newTestServer(t)
	a := s.createUser("known", nil)
	g := s.createGroup("g", a)
	r := s.do("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
	  "Operations":[{"op":"add","path":"members","value":[{"value":"no-such-user"}]}]}`).must(t, 400)
	if r.str("scimType") != "invalidValue" || !strings.Contains(r.str("detail"), "no-such-user") {
		t.Fatalf("error = %s", r.Raw)
	}
	r = s.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g2","members":[{"value":"ghost"}]}`).must(t, 400)
	if !strings.Contains(r.str("detail"), "ghost") {
		t.Fatalf("error = %s", r.Raw)
	}
	if got := s.memberIDs(g); !slices.Equal(got, []string{a}) {
		t.Fatalf("members changed: %v", got)
	}
}
