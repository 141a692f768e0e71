package quirks

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Sources of the request shapes below.
const (
	// Entra ID, the requests sent without and with the aadOptscim062020 flag.
	srcEntraCompat = "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility"
	// Entra ID, the example requests of its SCIM endpoint guide.
	srcEntraGuide = "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups"
	// Entra ID sends active as "True" in a POST; the provisioning team
	// confirms it in the reference code's test suite.
	srcEntraActiveString = "https://github.com/AzureAD/SCIMReferenceCode/issues/21"
	// Entra ID sending lower-case "false" for active.
	srcEntraLowerString = "https://github.com/scimmyjs/scimmy/issues/86"
	// Entra ID sending a pathless replace with dotted name keys.
	srcEntraDotted = "https://github.com/pingidentity/scim2/issues/224"
	// Okta's SCIM 2.0 reference (user PUT, deactivation, group rename,
	// group membership).
	srcOkta = "https://developer.okta.com/docs/reference/scim/scim-20/"
	// The Keycloak SCIM client extension (libre.sh keycloak-scim, mirrored
	// at mitodl/keycloak-scim): a group is replaced by PUT with its full
	// member list, each member with a relative $ref, and meta.location.
	srcKeycloakGroup = "https://github.com/mitodl/keycloak-scim/blob/main/src/main/java/sh/libre/scim/core/GroupAdapter.java"
	srcKeycloakUser  = "https://github.com/mitodl/keycloak-scim/blob/main/src/main/java/sh/libre/scim/core/UserAdapter.java"
	// authentik's outgoing SCIM group client: member add/remove with value
	// lists, and a pathless replace of the whole group.
	srcAuthentik      = "https://github.com/goauthentik/authentik/blob/main/authentik/providers/scim/clients/groups.py"
	srcAuthentikIssue = "https://github.com/goauthentik/authentik/issues/23798"
)

// decoders decode a document the two ways callers may: plain, and with
// numbers as json.Number.
var decoders = []struct {
	name      string
	useNumber bool
}{{"Plain", false}, {"UseNumber", true}}

func decode(t testing.TB, s string, useNumber bool) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if useNumber {
		dec.UseNumber()
	}
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

func sameChanges(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func TestResource(t *testing.T) {
	tests := []struct {
		name    string
		source  string
		kind    string
		in      string
		want    string
		changes []string
	}{
		{
			name:   "EntraCreateUserActiveString",
			source: srcEntraGuide + " (shape) and " + srcEntraActiveString + " (active as a string)",
			kind:   "User",
			in: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
				"userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
				"active": "True",
				"emails": [{"primary": "True", "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
				"meta": {"resourceType": "User"},
				"name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
				"roles": []
			}`,
			want: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
				"userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
				"active": true,
				"emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
				"name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
				"roles": []
			}`,
			changes: []string{ChangeResourceMeta, ChangeBoolString},
		},
		{
			name:   "EntraCreateGroupADSCIMSchema",
			source: srcEntraGuide,
			kind:   "Group",
			in: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
				"externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
				"displayName": "displayName",
				"meta": {"resourceType": "Group"}
			}`,
			want: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
				"externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
				"displayName": "displayName"
			}`,
			changes: []string{ChangeResourceMeta, ChangeEntraGroupSchema},
		},
		{
			name:   "OktaCreateUser",
			source: srcOkta,
			kind:   "User",
			in: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
				"userName": "test.user@okta.local",
				"name": {"givenName": "Test", "familyName": "User"},
				"emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
				"displayName": "Test User",
				"locale": "en-US",
				"externalId": "00ujl29u0le5T6Aj10h7",
				"groups": [],
				"password": "1mz050nq",
				"active": true
			}`,
			want: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
				"userName": "test.user@okta.local",
				"name": {"givenName": "Test", "familyName": "User"},
				"emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
				"displayName": "Test User",
				"locale": "en-US",
				"externalId": "00ujl29u0le5T6Aj10h7",
				"password": "1mz050nq",
				"active": true
			}`,
			changes: []string{ChangeUserGroups},
		},
		{
			name:   "OktaProfilePushPUTKeepsID",
			source: srcOkta,
			kind:   "User",
			in: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
				"id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
				"userName": "test.user@okta.local",
				"name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
				"emails": [{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
				"active": true,
				"groups": [],
				"meta": {"resourceType": "User"}
			}`,
			want: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
				"id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
				"userName": "test.user@okta.local",
				"name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
				"emails": [{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
				"active": true
			}`,
			changes: []string{ChangeResourceMeta, ChangeUserGroups},
		},
		{
			name:   "KeycloakPUTGroupWithFullMemberList",
			source: srcKeycloakGroup,
			kind:   "Group",
			in: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
				"id": "6c1d0a5e-64d1-4c1f-9d0e-1f3f7f0e2a10",
				"externalId": "kc-3f1e2d4c",
				"displayName": "platform",
				"members": [
					{"value": "2819c223-7f76-453a-919d-413861904646", "$ref": "Users/2819c223-7f76-453a-919d-413861904646"},
					{"value": "902c246b-6245-4190-8e05-00816be7344a", "$ref": "Users/902c246b-6245-4190-8e05-00816be7344a"}
				],
				"meta": {"location": "Groups/6c1d0a5e-64d1-4c1f-9d0e-1f3f7f0e2a10"}
			}`,
			want: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
				"id": "6c1d0a5e-64d1-4c1f-9d0e-1f3f7f0e2a10",
				"externalId": "kc-3f1e2d4c",
				"displayName": "platform",
				"members": [
					{"value": "2819c223-7f76-453a-919d-413861904646", "$ref": "Users/2819c223-7f76-453a-919d-413861904646"},
					{"value": "902c246b-6245-4190-8e05-00816be7344a", "$ref": "Users/902c246b-6245-4190-8e05-00816be7344a"}
				]
			}`,
			changes: []string{ChangeResourceMeta},
		},
		{
			// The extension sends active as a JSON boolean; a string here is
			// covered defensively, it was not seen in its source.
			name:   "KeycloakPUTUserActiveString",
			source: srcKeycloakUser,
			kind:   "User",
			in: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
				"id": "2819c223-7f76-453a-919d-413861904646",
				"externalId": "kc-9a8b7c6d",
				"userName": "alice",
				"displayName": "Alice Example",
				"emails": [{"value": "alice@example.com", "primary": "true"}],
				"active": "false",
				"roles": [{"value": "developer"}],
				"meta": {"location": "Users/2819c223-7f76-453a-919d-413861904646"}
			}`,
			want: `{
				"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
				"id": "2819c223-7f76-453a-919d-413861904646",
				"externalId": "kc-9a8b7c6d",
				"userName": "alice",
				"displayName": "Alice Example",
				"emails": [{"value": "alice@example.com", "primary": true}],
				"active": false,
				"roles": [{"value": "developer"}]
			}`,
			changes: []string{ChangeResourceMeta, ChangeBoolString},
		},
		{
			name: "BooleanStringsEveryPrimaryAnyCase",
			kind: "User",
			in: `{
				"userName": "bob", "Active": "TRUE",
				"emails": [{"value": "a@example.com", "primary": "FALSE"}, {"value": "b@example.com", "Primary": "true"}],
				"phoneNumbers": [{"value": "+1", "primary": "False"}],
				"addresses": [{"locality": "x", "primary": "True"}],
				"ims": [{"value": "x", "primary": "true"}],
				"photos": [{"value": "https://x", "primary": "false"}],
				"roles": [{"value": "r", "primary": "True"}],
				"entitlements": [{"value": "e", "primary": "False"}],
				"x509Certificates": [{"value": "Y2VydA==", "primary": "true"}]
			}`,
			want: `{
				"userName": "bob", "Active": true,
				"emails": [{"value": "a@example.com", "primary": false}, {"value": "b@example.com", "Primary": true}],
				"phoneNumbers": [{"value": "+1", "primary": false}],
				"addresses": [{"locality": "x", "primary": true}],
				"ims": [{"value": "x", "primary": true}],
				"photos": [{"value": "https://x", "primary": false}],
				"roles": [{"value": "r", "primary": true}],
				"entitlements": [{"value": "e", "primary": false}],
				"x509Certificates": [{"value": "Y2VydA==", "primary": true}]
			}`,
			changes: []string{ChangeBoolString},
		},
		{
			// Only boolean attributes are converted, and only from exactly
			// true or false.
			name: "NoGuessing",
			kind: "User",
			in: `{
				"userName": "True", "title": "False", "active": "yes",
				"emails": [{"value": "a@example.com", "primary": " true"}, {"value": "b@example.com", "primary": 1}],
				"name": {"givenName": "true"},
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "false"}
			}`,
			want: `{
				"userName": "True", "title": "False", "active": "yes",
				"emails": [{"value": "a@example.com", "primary": " true"}, {"value": "b@example.com", "primary": 1}],
				"name": {"givenName": "true"},
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "false"}
			}`,
		},
		{
			// Group has no boolean attribute and keeps its schemas otherwise.
			name:    "GroupUntouched",
			kind:    "Group",
			in:      `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "True", "members": [{"value": "u1"}]}`,
			want:    `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "True", "members": [{"value": "u1"}]}`,
			changes: nil,
		},
	}
	for _, tt := range tests {
		for _, d := range decoders {
			t.Run(tt.name+"/"+d.name, func(t *testing.T) {
				doc := decode(t, tt.in, d.useNumber)
				got := Resource(tt.kind, doc)
				if want := decode(t, tt.want, d.useNumber); !reflect.DeepEqual(doc, want) {
					t.Errorf("document:\n got %s\nwant %s\n(source %s)", mustJSON(t, doc), mustJSON(t, want), tt.source)
				}
				if !sameChanges(got, tt.changes) {
					t.Errorf("changes = %q, want %q", got, tt.changes)
				}
			})
		}
	}
}

func TestPatch(t *testing.T) {
	tests := []struct {
		name    string
		source  string
		kind    string
		in      string
		want    string
		changes []string
	}{
		{
			name:   "EntraDisableUserWithoutFlag",
			source: srcEntraCompat,
			kind:   "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "path": "active", "value": false}]}`,
			changes: []string{ChangeOpCase, ChangeBoolString},
		},
		{
			name:   "EntraDisableUserLowerCaseString",
			source: srcEntraLowerString,
			kind:   "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "Replace", "path": "active", "value": "false"}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "path": "active", "value": false}]}`,
			changes: []string{ChangeOpCase, ChangeBoolString},
		},
		{
			name:   "EntraDisableUserWithFlag",
			source: srcEntraCompat,
			kind:   "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "path": "active", "value": false}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "path": "active", "value": false}]}`,
		},
		{
			name:   "EntraAddSingleValueWithoutFlag",
			source: srcEntraCompat,
			kind:   "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "Add", "path": "nickName", "value": "Babs"}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "add", "path": "nickName", "value": "Babs"}]}`,
			changes: []string{ChangeOpCase},
		},
		{
			// Value-filter and URN paths are standard and stay as sent.
			name:   "EntraReplaceManyWithoutFlag",
			source: srcEntraCompat,
			kind:   "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "Replace", "path": "displayName", "value": "Pvlo"},
				{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
				{"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
				{"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
				{"op": "Replace", "path": "externalId", "value": "Eqpj"},
				{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "replace", "path": "displayName", "value": "Pvlo"},
				{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
				{"op": "replace", "path": "name.givenName", "value": "Gtfd"},
				{"op": "replace", "path": "name.familyName", "value": "Pkqf"},
				{"op": "replace", "path": "externalId", "value": "Eqpj"},
				{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}]}`,
			changes: []string{ChangeOpCase},
		},
		{
			name:   "EntraReplaceManyWithFlagPathlessKeys",
			source: srcEntraCompat,
			kind:   "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
				{"op": "replace", "value": {
					"displayName": "Bjfe",
					"name.givenName": "Kkom",
					"name.familyName": "Unua",
					"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
				{"op": "replace", "value": {"displayName": "Bjfe"}},
				{"op": "replace", "path": "name.familyName", "value": "Unua"},
				{"op": "replace", "path": "name.givenName", "value": "Kkom"},
				{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Aklq"}]}`,
			changes: []string{ChangePathlessKeys},
		},
		{
			// Only dotted keys: no operation is left for plain keys.
			name:   "EntraPathlessDottedNameOnly",
			source: srcEntraDotted,
			kind:   "User",
			in: `{"Operations": [{"op": "replace", "value": {"name.familyName": "test", "name.formatted": "test test2"}}],
				"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
			want: `{"Operations": [
				{"op": "replace", "path": "name.familyName", "value": "test"},
				{"op": "replace", "path": "name.formatted", "value": "test test2"}],
				"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
			changes: []string{ChangePathlessKeys},
		},
		{
			name:   "EntraRemoveMemberWithoutFlag",
			source: srcEntraCompat,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u1091"}]}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "remove", "path": "members[value eq \"u1091\"]"}]}`,
			changes: []string{ChangeOpCase, ChangeMemberRemoveByValue},
		},
		{
			name:   "EntraRemoveMemberWithFlag",
			source: srcEntraCompat,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "remove", "path": "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "remove", "path": "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"}]}`,
		},
		{
			// The guide's shape, with $ref null, and two members in one op.
			name:   "EntraRemoveMembersValueListWithRef",
			source: srcEntraGuide,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "Remove", "path": "members", "value": [
					{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"},
					{"$ref": null, "value": "id\"with\\quote"}]}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [
					{"op": "remove", "path": "members[value eq \"f648f8d5ea4e4cd38e9c\"]"},
					{"op": "remove", "path": "members[value eq \"id\\\"with\\\\quote\"]"}]}`,
			changes: []string{ChangeOpCase, ChangeMemberRemoveByValue},
		},
		{
			// Add with a value list is standard: only the op name changes.
			name:   "EntraAddMembersPassesThrough",
			source: srcEntraGuide,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]}`,
			changes: []string{ChangeOpCase},
		},
		{
			name:   "EntraReplaceGroupDisplayName",
			source: srcEntraGuide,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]}`,
			changes: []string{ChangeOpCase},
		},
		{
			name:   "OktaDeactivateUser",
			source: srcOkta,
			kind:   "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "value": {"active": false}}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "value": {"active": false}}]}`,
		},
		{
			name:   "OktaRenameGroupWithID",
			source: srcOkta,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2"}}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "value": {"displayName": "Test SCIMv2"}}]}`,
			changes: []string{ChangePathlessReadOnly},
		},
		{
			name:   "OktaDeactivateWithIDAndString",
			source: srcOkta + " (deactivation, with the id Okta adds to pathless values)",
			kind:   "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "value": {"id": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "active": "False"}}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "value": {"active": false}}]}`,
			changes: []string{ChangePathlessReadOnly, ChangeBoolString},
		},
		{
			name:   "OktaGroupMembership",
			source: srcOkta,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
				{"op": "add", "path": "members", "value": [{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}]}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
				{"op": "add", "path": "members", "value": [{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}]}]}`,
		},
		{
			name:   "OktaReplaceAllMembers",
			source: srcOkta,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "replace", "path": "members", "value": [
					{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"},
					{"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "test.user@okta.local"}]}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "replace", "path": "members", "value": [
					{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"},
					{"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "test.user@okta.local"}]}]}`,
		},
		{
			name:   "AuthentikRemoveMemberValueList",
			source: srcAuthentik + " and " + srcAuthentikIssue,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "remove", "path": "members", "value": [{"value": "f6272316-17b7-46d6-932c-6d5c364b34ff"}]}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "remove", "path": "members[value eq \"f6272316-17b7-46d6-932c-6d5c364b34ff\"]"}]}`,
			changes: []string{ChangeMemberRemoveByValue},
		},
		{
			// authentik chunks one add and one remove per member into a
			// single request.
			name:   "AuthentikChunkedAddAndRemove",
			source: srcAuthentik,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "add", "path": "members", "value": [{"value": "a1"}]},
				{"op": "add", "path": "members", "value": [{"value": "a2"}]},
				{"op": "remove", "path": "members", "value": [{"value": "r1"}]},
				{"op": "remove", "path": "members", "value": [{"value": "r2"}]}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "add", "path": "members", "value": [{"value": "a1"}]},
				{"op": "add", "path": "members", "value": [{"value": "a2"}]},
				{"op": "remove", "path": "members[value eq \"r1\"]"},
				{"op": "remove", "path": "members[value eq \"r2\"]"}]}`,
			changes: []string{ChangeMemberRemoveByValue},
		},
		{
			// authentik's PATCH update sends the whole group as a pathless
			// replace, with schemas and id.
			name:   "AuthentikPathlessWholeGroup",
			source: srcAuthentik,
			kind:   "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "replace", "value": {
					"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
					"id": "9d2b0f4e-1a6f-4b8e-9a51-0a7f4c2e6b11",
					"externalId": "42",
					"displayName": "engineering"}}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "replace", "value": {"externalId": "42", "displayName": "engineering"}}]}`,
			changes: []string{ChangePathlessReadOnly},
		},
		{
			name: "BooleanPathsAndURNPrefix",
			kind: "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "REPLACE", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active", "value": "True"},
				{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "TRUE"},
				{"op": "replace", "path": "phoneNumbers.primary", "value": "false"},
				{"op": "add", "path": "emails", "value": [{"value": "x@example.com", "primary": "True"}]},
				{"op": "add", "path": "roles[value eq \"a]b\"]", "value": {"primary": "false"}},
				{"op": "replace", "path": "title", "value": "True"},
				{"op": "replace", "path": "emails[primary eq \"True\"].value", "value": "y@example.com"}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active", "value": true},
				{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true},
				{"op": "replace", "path": "phoneNumbers.primary", "value": false},
				{"op": "add", "path": "emails", "value": [{"value": "x@example.com", "primary": true}]},
				{"op": "add", "path": "roles[value eq \"a]b\"]", "value": {"primary": false}},
				{"op": "replace", "path": "title", "value": "True"},
				{"op": "replace", "path": "emails[primary eq \"True\"].value", "value": "y@example.com"}]}`,
			changes: []string{ChangeOpCase, ChangeBoolString},
		},
		{
			// Pathless attribute paths with a boolean, mixed with a plain
			// boolean string.
			name: "PathlessURNBoolean",
			kind: "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "Add", "value": {"active": "False", "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"].primary": "true"}}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "add", "value": {"active": false}},
				{"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"].primary", "value": true}]}`,
			changes: []string{ChangeOpCase, ChangeBoolString, ChangePathlessKeys},
		},
		{
			// A bare extension URN key is the standard form; an unknown URN
			// is left to validation.
			name: "PathlessExtensionObjectAndUnknownURN",
			kind: "User",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "replace", "value": {
					"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
					"urn:example:custom:2.0:User:badge": "7"}}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				{"op": "replace", "value": {
					"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
					"urn:example:custom:2.0:User:badge": "7"}}]}`,
		},
		{
			// Lower-case field names, as some clients send them.
			name:   "LowerCaseOperationsKey",
			source: "https://github.com/ssoready/ssoready/pull/182",
			kind:   "Group",
			in:     `{"operations": [{"op": "remove", "path": "members", "value": [{"value": "scim_user_767ja3jcmyly6w7oc0qzh0wnk"}]}]}`,
			want:   `{"operations": [{"op": "remove", "path": "members[value eq \"scim_user_767ja3jcmyly6w7oc0qzh0wnk\"]"}]}`,
			changes: []string{
				ChangeMemberRemoveByValue,
			},
		},
		{
			// schemas missing is not invented; the server rejects it.
			name:    "MissingSchemasLeftAlone",
			kind:    "User",
			in:      `{"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}`,
			want:    `{"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}`,
			changes: nil,
		},
		{
			// Shapes that are not ours to fix go through untouched.
			name: "UnknownShapesLeftAlone",
			kind: "Group",
			in: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				"not an object",
				{"op": "move", "path": "members", "value": [{"value": "u1"}]},
				{"op": "remove", "path": "members"},
				{"op": "remove", "path": "members", "value": null},
				{"op": "replace", "path": 7, "value": "x"},
				{"op": "add", "value": "not an object"},
				{"op": 3}]}`,
			want: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
				"not an object",
				{"op": "move", "path": "members", "value": [{"value": "u1"}]},
				{"op": "remove", "path": "members"},
				{"op": "remove", "path": "members", "value": null},
				{"op": "replace", "path": 7, "value": "x"},
				{"op": "add", "value": "not an object"},
				{"op": 3}]}`,
		},
		{
			// Users have no members: the rewrite is for groups only.
			name:    "UserMembersLeftAlone",
			kind:    "User",
			in:      `{"Operations": [{"op": "remove", "path": "members", "value": [{"value": "u1"}]}]}`,
			want:    `{"Operations": [{"op": "remove", "path": "members", "value": [{"value": "u1"}]}]}`,
			changes: nil,
		},
		{
			name:    "DuplicateMemberRemovedOnce",
			kind:    "Group",
			in:      `{"Operations": [{"op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members", "value": [{"value": "u1"}, {"value": "u1"}]}]}`,
			want:    `{"Operations": [{"op": "remove", "path": "members[value eq \"u1\"]"}]}`,
			changes: []string{ChangeMemberRemoveByValue},
		},
		{
			name:    "NoOperations",
			kind:    "User",
			in:      `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": "nope"}`,
			want:    `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": "nope"}`,
			changes: nil,
		},
	}
	for _, tt := range tests {
		for _, d := range decoders {
			t.Run(tt.name+"/"+d.name, func(t *testing.T) {
				req := decode(t, tt.in, d.useNumber)
				got, err := Patch(tt.kind, req)
				if err != nil {
					t.Fatalf("Patch: %v (source %s)", err, tt.source)
				}
				if want := decode(t, tt.want, d.useNumber); !reflect.DeepEqual(req, want) {
					t.Errorf("request:\n got %s\nwant %s\n(source %s)", mustJSON(t, req), mustJSON(t, want), tt.source)
				}
				if !sameChanges(got, tt.changes) {
					t.Errorf("changes = %q, want %q", got, tt.changes)
				}
				// Normalising is idempotent.
				again, err := Patch(tt.kind, req)
				if err != nil || len(again) != 0 {
					t.Errorf("second pass: changes %q, err %v; want none", again, err)
				}
			})
		}
	}
}

// TestPatchRefuses covers the shapes that cannot be rewritten without
// guessing: passing them on could empty a group or apply values in an
// arbitrary order.
func TestPatchRefuses(t *testing.T) {
	tests := []struct {
		name string
		kind string
		in   string
	}{
		{"ErrMemberRemoveEmptyList", "Group", `{"Operations": [{"op": "Remove", "path": "members", "value": []}]}`},
		{"ErrMemberRemoveNotAList", "Group", `{"Operations": [{"op": "remove", "path": "members", "value": "u1"}]}`},
		{"ErrMemberRemoveObject", "Group", `{"Operations": [{"op": "remove", "path": "members", "value": {"value": "u1"}}]}`},
		{"ErrMemberRemoveNoValue", "Group", `{"Operations": [{"op": "remove", "path": "members", "value": [{"display": "Alice"}]}]}`},
		{"ErrMemberRemoveEmptyValue", "Group", `{"Operations": [{"op": "remove", "path": "members", "value": [{"value": ""}]}]}`},
		{"ErrMemberRemoveNumberValue", "Group", `{"Operations": [{"op": "remove", "path": "members", "value": [{"value": 12}]}]}`},
		{"ErrMemberRemoveNotObject", "Group", `{"Operations": [{"op": "remove", "path": "members", "value": ["u1"]}]}`},
		{"ErrMemberRemoveDuplicateValueKey", "Group", `{"Operations": [{"op": "remove", "path": "members", "value": [{"value": "a", "Value": "b"}]}]}`},
		{"ErrPathlessObjectAndPath", "User", `{"Operations": [{"op": "replace", "value": {"name": {"givenName": "A"}, "name.familyName": "B"}}]}`},
		{"ErrPathlessExtensionAndPath", "User", `{"Operations": [{"op": "replace", "value": {
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x"},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "1"}}]}`},
		{"ErrPathlessSameAttributeTwice", "User", `{"Operations": [{"op": "replace", "value": {
			"name.givenName": "A", "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName": "B"}}]}`},
		{"ErrPathlessCoreObjectAndPath", "User", `{"Operations": [{"op": "replace", "value": {
			"urn:ietf:params:scim:schemas:core:2.0:User": {"title": "x"}, "name.givenName": "A"}}]}`},
		{"ErrDuplicateOperations", "User", `{"Operations": [], "operations": []}`},
		{"ErrDuplicateOp", "User", `{"Operations": [{"op": "add", "Op": "remove", "path": "title"}]}`},
	}
	for _, tt := range tests {
		for _, d := range decoders {
			t.Run(tt.name+"/"+d.name, func(t *testing.T) {
				_, err := Patch(tt.kind, decode(t, tt.in, d.useNumber))
				if !errors.Is(err, ErrAmbiguous) {
					t.Fatalf("Patch error = %v, want ErrAmbiguous", err)
				}
				if strings.Contains(err.Error(), "u1") || strings.Contains(err.Error(), "Alice") {
					t.Errorf("error %q quotes the payload", err)
				}
			})
		}
	}
}

func TestNil(t *testing.T) {
	if got := Resource("User", nil); got != nil {
		t.Errorf("Resource(nil) = %q", got)
	}
	if got, err := Patch("Group", nil); got != nil || err != nil {
		t.Errorf("Patch(nil) = %q, %v", got, err)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// FuzzQuirks feeds arbitrary JSON to both functions as both resource types:
// they must not panic, must leave a document that still encodes as JSON,
// and must be idempotent.
func FuzzQuirks(f *testing.F) {
	seeds := []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u1091"}]}]}`,
		`{"Operations":[{"op":"replace","value":{"displayName":"B","name.givenName":"K","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"A"}}]}`,
		`{"Operations":[{"op":"replace","value":{"id":"abf4","displayName":"Test"}}]}`,
		`{"Operations":[{"op":"add","path":"emails[type eq \"work\"].primary","value":"TRUE"}]}`,
		`{"Operations":[{"op":"remove","path":"members","value":[]}]}`,
		`{"Operations":[{"op":"replace","value":{"name":{},"name.x":1}}]}`,
		`{"userName":"a","active":"True","emails":[{"primary":"false"}],"meta":{},"groups":[]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"g"}`,
		`{"Operations":[{"op":"add","path":"roles[value eq \"]\"","value":{"primary":"true"}}]}`,
		`{"Operations":null,"operations":1}`,
		`{}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, useNumber := range []bool{false, true} {
			for _, kind := range []string{"User", "Group", "Other"} {
				dec := json.NewDecoder(strings.NewReader(string(b)))
				if useNumber {
					dec.UseNumber()
				}
				var doc map[string]any
				if dec.Decode(&doc) != nil {
					return
				}
				Resource(kind, doc)
				if _, err := json.Marshal(doc); err != nil {
					t.Fatalf("Resource left a document that does not encode: %v", err)
				}
				if again := Resource(kind, doc); len(again) != 0 {
					t.Fatalf("Resource not idempotent: second pass changed %q", again)
				}

				dec = json.NewDecoder(strings.NewReader(string(b)))
				if useNumber {
					dec.UseNumber()
				}
				var req map[string]any
				if dec.Decode(&req) != nil {
					return
				}
				if _, err := Patch(kind, req); err != nil {
					if !errors.Is(err, ErrAmbiguous) {
						t.Fatalf("Patch error does not wrap ErrAmbiguous: %v", err)
					}
					continue
				}
				if _, err := json.Marshal(req); err != nil {
					t.Fatalf("Patch left a request that does not encode: %v", err)
				}
				if again, err := Patch(kind, req); err != nil || len(again) != 0 {
					t.Fatalf("Patch not idempotent: second pass %q, %v", again, err)
				}
			}
		}
	})
}
