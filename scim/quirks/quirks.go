// Package quirks rewrites the known deviations of real SCIM clients
// (Microsoft Entra ID, Okta, Keycloak SCIM plugins, authentik) into the
// shapes RFC 7643 and RFC 7644 define, so that the rest of the server can
// validate strictly.
//
// The functions work on a JSON document decoded with encoding/json into a
// map[string]any, with or without json.Decoder.UseNumber, and change it in
// place. Each returns the kinds of change it made, as constant strings (the
// Change* constants) that carry no payload values, for a debug log line.
//
// What is normalised:
//
//   - Boolean strings ("True", "false", any case) in attributes whose schema
//     type is boolean: User active, and primary in emails, phoneNumbers,
//     addresses, ims, photos, roles, entitlements and x509Certificates; in
//     POST/PUT bodies, in pathless PATCH values and in PATCH values whose
//     path targets one of them (for example "active" or
//     `emails[type eq "work"].primary`).
//   - PATCH op names in any case ("Replace", "ADD") become lower case.
//   - A Group PATCH remove on path "members" with a value list
//     ([{"value":"id1"},{"value":"id2"}]) becomes one remove per member
//     with the path `members[value eq "id1"]`. Read literally, RFC 7644
//     §3.5.2.2 makes the original remove every member.
//   - A pathless add or replace whose value object has attribute-path keys
//     ("name.givenName", or a key prefixed with a known schema URN such as
//     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
//     becomes one operation with that key as its path per such key; the
//     plain keys stay together in the first operation.
//   - A pathless add or replace value loses id, schemas and meta.
//   - A POST/PUT body loses meta (read-only), a User body loses groups
//     (read-only, RFC 7643 §4.1.2), and a Group body's schemas lose the
//     Entra-only URI
//     "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group".
//
// What is deliberately left alone, for the server to accept or reject:
//
//   - a PatchOp body without schemas, or with the wrong one;
//   - id in a POST/PUT body (the caller decides what it means);
//   - strings other than true/false in boolean attributes ("yes", "1", " True");
//   - boolean strings in attributes that are not boolean in the schema, and
//     anything inside a filter in a path;
//   - an add of members with a value list, which is already standard;
//   - keys with an unknown URN prefix in a pathless value;
//   - a member value list for any op other than remove.
//
// What is refused (Patch returns an error wrapping ErrAmbiguous, and the
// request must be rejected rather than passed on): a members remove whose
// value is not a non-empty list of objects each with a non-empty string
// "value" (passing it on could empty the group), a pathless value in which
// an attribute-path key overlaps a plain key ("name" and "name.givenName",
// or an extension object and one of its attributes) or two keys name the
// same attribute, since the result would depend on their order, and field
// names that appear twice in different case ("Operations" and
// "operations"), since which one the decoder keeps is unspecified.
package quirks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Descriptions of the changes Resource and Patch make, one per kind of
// change. They are constant and safe to log.
const (
	// ChangeBoolString: a boolean attribute held the string "true" or
	// "false" (any case) and now holds the JSON boolean.
	ChangeBoolString = "boolean attribute sent as a string"
	// ChangeOpCase: a PATCH op name was not in lower case.
	ChangeOpCase = "patch op name not in lower case"
	// ChangeMemberRemoveByValue: a members remove carried the members in
	// value and was split into one remove per member with a path filter.
	ChangeMemberRemoveByValue = "members remove by value list split into path filters"
	// ChangePathlessKeys: a pathless add or replace had attribute-path keys
	// and was split into one operation per such key.
	ChangePathlessKeys = "pathless patch value with attribute-path keys split into operations"
	// ChangePathlessReadOnly: a pathless add or replace value carried id,
	// schemas or meta, which were dropped.
	ChangePathlessReadOnly = "id, schemas or meta dropped from pathless patch value"
	// ChangeResourceMeta: a POST/PUT body carried the read-only meta, which
	// was dropped.
	ChangeResourceMeta = "read-only meta dropped from resource"
	// ChangeUserGroups: a User POST/PUT body carried the read-only groups,
	// which were dropped.
	ChangeUserGroups = "read-only groups dropped from user"
	// ChangeEntraGroupSchema: a Group body listed the Entra-only ADSCIM
	// schema URI, which was dropped from schemas.
	ChangeEntraGroupSchema = "non-standard Entra group schema URI dropped"
)

// ErrAmbiguous is wrapped by every error Patch returns: the request shows a
// known quirk that cannot be rewritten without guessing, and passing it on
// unchanged could do harm. The caller should answer 400 invalidValue. The
// error text names the operation by index and never quotes the payload.
var ErrAmbiguous = errors.New("client quirk cannot be normalised without guessing")

const (
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	entraGroupURI = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
)

// knownURNs are the schema URNs whose attributes may appear as URN-prefixed
// keys in a pathless PATCH value.
var knownURNs = []string{userURN, groupURN, enterpriseURN}

// primaryAttrs are the User multi-valued attributes whose sub-attribute
// primary is a boolean (RFC 7643 §4.1.2 and §4.3).
var primaryAttrs = []string{
	"emails", "phoneNumbers", "addresses", "ims", "photos",
	"roles", "entitlements", "x509Certificates",
}

type kind int

const (
	kindOther kind = iota
	kindUser
	kindGroup
)

func kindOf(resourceType string) kind {
	switch {
	case strings.EqualFold(resourceType, "User"):
		return kindUser
	case strings.EqualFold(resourceType, "Group"):
		return kindGroup
	default:
		return kindOther
	}
}

// changes collects change descriptions once each, in first-seen order.
type changes []string

func (c *changes) add(s string) {
	if !slices.Contains(*c, s) {
		*c = append(*c, s)
	}
}

// Resource normalises the body of a POST or PUT of a User (resourceType
// "User") or a Group ("Group") in place and returns what it changed, each
// kind of change once. Other resource types get only the changes that do
// not depend on a schema (meta is dropped). It never fails: anything it
// does not recognise is left for validation.
func Resource(resourceType string, doc map[string]any) []string {
	if doc == nil {
		return nil
	}
	var c changes
	k := kindOf(resourceType)
	for key := range doc {
		if strings.EqualFold(key, "meta") {
			delete(doc, key)
			c.add(ChangeResourceMeta)
		}
	}
	switch k {
	case kindUser:
		for key := range doc {
			if strings.EqualFold(key, "groups") {
				delete(doc, key)
				c.add(ChangeUserGroups)
			}
		}
		userBools(doc, &c)
	case kindGroup:
		dropEntraGroupSchema(doc, &c)
	}
	return c
}

// dropEntraGroupSchema removes the ADSCIM URI that Entra ID lists in the
// schemas of a Group it creates.
func dropEntraGroupSchema(doc map[string]any, c *changes) {
	for key, v := range doc {
		if !strings.EqualFold(key, "schemas") {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := list[:0:0]
		for _, s := range list {
			if str, ok := s.(string); ok && strings.EqualFold(str, entraGroupURI) {
				continue
			}
			kept = append(kept, s)
		}
		if len(kept) != len(list) {
			doc[key] = kept
			c.add(ChangeEntraGroupSchema)
		}
	}
}

// userBools converts boolean strings in a User document or in a partial one
// (a pathless PATCH value).
func userBools(doc map[string]any, c *changes) {
	for key, v := range doc {
		switch {
		case strings.EqualFold(key, "active"):
			if b, ok := boolString(v); ok {
				doc[key] = b
				c.add(ChangeBoolString)
			}
		case isPrimaryAttr(key):
			primaryBools(v, c)
		}
	}
}

// primaryBools converts primary in each element of a multi-valued
// attribute's value: a list of objects, or a single object as some clients
// send.
func primaryBools(v any, c *changes) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				primaryBool(m, c)
			}
		}
	case map[string]any:
		primaryBool(t, c)
	}
}

func primaryBool(m map[string]any, c *changes) {
	for key, v := range m {
		if strings.EqualFold(key, "primary") {
			if b, ok := boolString(v); ok {
				m[key] = b
				c.add(ChangeBoolString)
			}
		}
	}
}

func isPrimaryAttr(name string) bool {
	for _, a := range primaryAttrs {
		if strings.EqualFold(name, a) {
			return true
		}
	}
	return false
}

// boolString reports the boolean a string "true" or "false" (any case)
// stands for. Anything else, surrounding spaces included, is not guessed.
func boolString(v any) (bool, bool) {
	s, ok := v.(string)
	if !ok {
		return false, false
	}
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	default:
		return false, false
	}
}

// Patch normalises a PatchOp request body (RFC 7644 §3.5.2) for a resource
// of the given type ("User" or "Group") in place and returns what it
// changed, each kind of change once. A body without an Operations list, or
// operations that are not objects, are left for validation.
//
// On error, which always wraps ErrAmbiguous, req may have been partly
// rewritten and must be rejected, not used.
func Patch(resourceType string, req map[string]any) ([]string, error) {
	if req == nil {
		return nil, nil
	}
	var c changes
	opsKey, ok, err := field(req, "Operations")
	if err != nil {
		return nil, fmt.Errorf("patch request: %w", err)
	}
	if !ok {
		return nil, nil
	}
	list, ok := req[opsKey].([]any)
	if !ok {
		return nil, nil
	}
	k := kindOf(resourceType)
	out := make([]any, 0, len(list))
	for i, raw := range list {
		op, ok := raw.(map[string]any)
		if !ok {
			out = append(out, raw)
			continue
		}
		ops, err := normaliseOp(k, op, &c)
		if err != nil {
			return c, fmt.Errorf("patch operation %d: %w", i, err)
		}
		out = append(out, ops...)
	}
	req[opsKey] = out
	return c, nil
}

// normaliseOp normalises one operation and returns what replaces it: the
// operation itself, or the operations it was split into.
func normaliseOp(k kind, op map[string]any, c *changes) ([]any, error) {
	opKey, hasOp, err := field(op, "op")
	if err != nil {
		return nil, err
	}
	pathKey, hasPathKey, err := field(op, "path")
	if err != nil {
		return nil, err
	}
	valueKey, hasValueKey, err := field(op, "value")
	if err != nil {
		return nil, err
	}

	name := ""
	if hasOp {
		if s, ok := op[opKey].(string); ok {
			lower := strings.ToLower(s)
			switch lower {
			case "add", "remove", "replace":
				if s != lower {
					op[opKey] = lower
					c.add(ChangeOpCase)
				}
				name = lower
			}
		}
	}

	// A path that is null or "" is no path, as for the decoders that read
	// it into a string.
	path, hasPath := "", false
	if hasPathKey {
		if s, ok := op[pathKey].(string); ok && s != "" {
			path, hasPath = s, true
		} else if op[pathKey] != nil && !ok {
			// A path that is not a string is for validation to reject.
			return []any{op}, nil
		}
	}
	var value any
	if hasValueKey {
		value = op[valueKey]
	}

	switch name {
	case "remove":
		if k == kindGroup && hasPath && isMembersPath(path) && value != nil {
			return splitMemberRemove(value, c)
		}
	case "add", "replace":
		if !hasPath {
			obj, ok := value.(map[string]any)
			if !ok {
				return []any{op}, nil
			}
			return splitPathless(k, name, op, valueKey, obj, c)
		}
		if k == kindUser {
			if v, changed := pathBools(path, value, c); changed {
				op[valueKey] = v
			}
		}
	}
	return []any{op}, nil
}

// field finds the key of m that matches name case-insensitively, as
// encoding/json matches struct fields. Two keys that both match are
// ambiguous, since which value a decoder keeps depends on their order.
func field(m map[string]any, name string) (string, bool, error) {
	found, key := false, ""
	for k := range m {
		if !strings.EqualFold(k, name) {
			continue
		}
		if found {
			return "", false, fmt.Errorf("field %s appears more than once in different case: %w", name, ErrAmbiguous)
		}
		found, key = true, k
	}
	return key, found, nil
}

func isMembersPath(path string) bool {
	return strings.EqualFold(path, "members") || strings.EqualFold(path, groupURN+":members")
}

// splitMemberRemove turns a remove of path "members" with a value list into
// one remove per listed member, each with a filter on value. The shape is
// Entra ID's (without its aadOptscim062020 flag) and authentik's.
func splitMemberRemove(value any, c *changes) ([]any, error) {
	list, ok := value.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("members remove has a value that is not a non-empty list of members: %w", ErrAmbiguous)
	}
	var ids []string
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("members remove lists a member that is not an object: %w", ErrAmbiguous)
		}
		vKey, ok, err := field(m, "value")
		if err != nil {
			return nil, err
		}
		id, isString := m[vKey].(string)
		if !ok || !isString || id == "" {
			return nil, fmt.Errorf("members remove lists a member without a string value: %w", ErrAmbiguous)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	ops := make([]any, 0, len(ids))
	for _, id := range ids {
		ops = append(ops, map[string]any{
			"op":   "remove",
			"path": "members[value eq " + jsonString(id) + "]",
		})
	}
	c.add(ChangeMemberRemoveByValue)
	return ops, nil
}

// jsonString quotes s as a JSON string, which is the form of a string
// comparison value in a SCIM filter (RFC 7644 §3.4.2.2).
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// Encoding a string cannot fail.
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// splitPathless normalises a pathless add or replace: drops id, schemas and
// meta from its value, and moves every attribute-path key into an
// operation of its own, after the one that keeps the plain keys.
func splitPathless(k kind, name string, op map[string]any, valueKey string, obj map[string]any, c *changes) ([]any, error) {
	for key := range obj {
		if strings.EqualFold(key, "id") || strings.EqualFold(key, "schemas") || strings.EqualFold(key, "meta") {
			delete(obj, key)
			c.add(ChangePathlessReadOnly)
		}
	}

	var pathKeys, plainKeys []string
	for key := range obj {
		if isAttrPathKey(key) {
			pathKeys = append(pathKeys, key)
		} else {
			plainKeys = append(plainKeys, key)
		}
	}
	if len(pathKeys) == 0 {
		if k == kindUser {
			userBools(obj, c)
		}
		return []any{op}, nil
	}
	if err := checkOverlap(pathKeys, plainKeys); err != nil {
		return nil, err
	}
	slices.Sort(pathKeys)

	var ops []any
	if len(plainKeys) > 0 {
		rest := make(map[string]any, len(plainKeys))
		for _, key := range plainKeys {
			rest[key] = obj[key]
		}
		if k == kindUser {
			userBools(rest, c)
		}
		op[valueKey] = rest
		ops = append(ops, op)
	}
	for _, key := range pathKeys {
		v := obj[key]
		if k == kindUser {
			v, _ = pathBools(key, v, c)
		}
		ops = append(ops, map[string]any{"op": name, "path": key, "value": v})
	}
	c.add(ChangePathlessKeys)
	return ops, nil
}

// isAttrPathKey reports whether a key of a pathless value is an attribute
// path rather than an attribute name: dotted ("name.givenName"), or a known
// schema URN followed by an attribute. A bare schema URN is the standard
// way to carry an extension's attributes, and an unknown URN is left alone.
func isAttrPathKey(key string) bool {
	if hasPrefixFold(key, "urn:") {
		for _, urn := range knownURNs {
			if len(key) > len(urn)+1 && hasPrefixFold(key, urn+":") {
				return true
			}
		}
		return false
	}
	return strings.Contains(key, ".")
}

// checkOverlap refuses a pathless value whose keys target overlapping
// attributes, because splitting it would make the outcome depend on the
// order of the operations, which a JSON object does not have.
func checkOverlap(pathKeys, plainKeys []string) error {
	targets := make([]string, 0, len(pathKeys))
	for _, key := range pathKeys {
		t := target(key)
		if slices.Contains(targets, t) {
			return fmt.Errorf("pathless value names the same attribute twice: %w", ErrAmbiguous)
		}
		targets = append(targets, t)
	}
	for _, key := range plainKeys {
		p := target(key)
		if strings.EqualFold(key, userURN) || strings.EqualFold(key, groupURN) {
			return fmt.Errorf("pathless value mixes a core schema object with attribute paths: %w", ErrAmbiguous)
		}
		for _, t := range targets {
			if t == p || strings.HasPrefix(t, p+".") || strings.HasPrefix(t, p+":") {
				return fmt.Errorf("pathless value names an attribute both as an object and by path: %w", ErrAmbiguous)
			}
		}
	}
	return nil
}

// target is a key reduced to the attribute it names: lower case, without
// a core schema URN prefix.
func target(key string) string {
	for _, urn := range []string{userURN, groupURN} {
		if len(key) > len(urn)+1 && hasPrefixFold(key, urn+":") {
			key = key[len(urn)+1:]
			break
		}
	}
	return strings.ToLower(key)
}

// pathBools converts boolean strings in the value of an add or replace
// whose path is a User attribute of boolean type, or a multi-valued
// attribute with a boolean primary. It returns the value to store and
// whether it differs from v.
func pathBools(path string, v any, c *changes) (any, bool) {
	p := path
	if len(p) > len(userURN)+1 && hasPrefixFold(p, userURN+":") {
		p = p[len(userURN)+1:]
	}
	attr, rest := p, ""
	if i := strings.IndexAny(p, "[."); i >= 0 {
		attr, rest = p[:i], p[i:]
	}
	// Whatever a filter says, only what follows it matters here. A filter
	// cannot hold a sub-attribute after its closing bracket, so the last
	// bracket ends it even when a quoted value contains one.
	if strings.HasPrefix(rest, "[") {
		end := strings.LastIndex(rest, "]")
		if end < 0 {
			return v, false
		}
		rest = rest[end+1:]
	}
	switch {
	case strings.EqualFold(attr, "active") && rest == "":
		if b, ok := boolString(v); ok {
			c.add(ChangeBoolString)
			return b, true
		}
	case isPrimaryAttr(attr) && rest == "":
		primaryBools(v, c)
	case isPrimaryAttr(attr) && strings.EqualFold(rest, ".primary"):
		if b, ok := boolString(v); ok {
			c.add(ChangeBoolString)
			return b, true
		}
	}
	return v, false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
