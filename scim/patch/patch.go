// Package patch applies SCIM 2.0 PATCH operations (RFC 7644 §3.5.2) to a
// resource held as map[string]any, the shape encoding/json decodes a
// resource into (numbers as float64 or json.Number).
//
// Apply is all or nothing: it works on a deep copy and returns it only
// when every operation succeeded, so the caller can run it inside a store
// transaction and write the result as is. Every error is an *Error whose
// ScimType the SCIM edge puts in its 400 response.
//
// Where RFC 7644 leaves room, this package chooses as follows.
//   - An "add" or "replace" without a path takes an object whose keys are
//     attribute paths ("userName", "name.givenName",
//     "urn:ietf:params:scim:schemas:core:2.0:User:title",
//     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
//     or extension URNs holding an object of that extension's attributes.
//     Each key is applied as if it were the path of an operation of its
//     own, in sorted key order. Core attributes may also be nested in an
//     object under the core schema's URN. A "schemas" key is ignored: the
//     server keeps "schemas" in step with the extensions present.
//   - "remove" without a path fails with noTarget (RFC 7644 §3.5.2.2).
//   - "remove" of an attribute that is not there, or with a value filter
//     that matches nothing, succeeds and changes nothing, so that a
//     client retrying a removal does not see an error.
//   - "replace" with a value filter that matches nothing fails with
//     noTarget (RFC 7644 §3.5.2.3). "add" with one that matches nothing
//     creates the element when the filter is a chain of eq comparisons
//     joined by and (emails[type eq "work"].value: a new work email),
//     which is what Microsoft Entra ID sends; otherwise it fails with
//     noTarget.
//   - "add" or "replace" of a complex value on a complex attribute (name,
//     or the elements a value filter selects) replaces the sub-attributes
//     given and leaves the others alone; a sub-attribute given as null is
//     removed.
//   - "add" to a multi-valued attribute appends each new value, except
//     that a value equal to an existing one is merged into it instead:
//     for a complex attribute with a "value" sub-attribute, two elements
//     are the same when their "value" sub-attributes are equal and their
//     "type" sub-attributes, when both have one, too (adding an existing
//     member is a no-op); for any other attribute, when they are equal as
//     a whole.
//   - "remove" of a multi-valued attribute with a value removes only the
//     elements that value lists (an element matches when every
//     sub-attribute the listed value gives is equal), as Microsoft Entra
//     ID does for group members. Elsewhere a value in "remove" is ignored.
//   - "replace" with null, "", an empty array or an empty object, like
//     "remove", leaves the attribute unassigned (RFC 7643 §2.5). "add" of
//     null or an empty array changes nothing.
//   - When an operation sets primary to true on an element of a
//     multi-valued attribute, every other element of that attribute that
//     had primary true gets false (RFC 7643 §2.4). An operation that sets
//     it on two elements fails with invalidValue.
//   - "schemas" is readOnly here, whatever the schema says (elimity's
//     says immutable): the server derives it.
//   - Mutability (RFC 7643 §2.2) is judged on the effect: an operation
//     that leaves a readOnly attribute (id, meta, groups) equal to what it
//     was, by the attribute's comparison rules, is accepted, so a client
//     may echo id back; one that changes it fails with mutability. An
//     immutable attribute may be given a value when it has none. For a
//     multi-valued complex attribute, adding or removing whole elements
//     is judged by the attribute's own mutability; changing a
//     sub-attribute of an existing element (members[value eq "x"].display)
//     by the sub-attribute's.
//   - Removing a required attribute (userName) fails with invalidValue.
//   - Values must have the schema's types, strictly: a string is no
//     boolean ("True" is the caller's to normalise). An unknown attribute
//     in a path, or a key of a path-less value, fails with invalidPath; an
//     unknown sub-attribute inside a complex value with invalidValue.
//   - A path that cannot be parsed, or whose value filter is invalid for
//     the attribute, fails with invalidPath.
package patch

import (
	"fmt"
	"sort"
	"strings"

	"github.com/elimity-com/scim/schema"
	fp "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/filter"
)

// The scimType values of RFC 7644 §3.12 that Apply reports.
const (
	InvalidPath   = "invalidPath"
	NoTarget      = "noTarget"
	InvalidValue  = "invalidValue"
	Mutability    = "mutability"
	InvalidSyntax = "invalidSyntax"
)

// Operation is one PATCH operation of a PatchOp request.
type Operation struct {
	// Op is "add", "remove" or "replace", in any case.
	Op string
	// Path is the attribute path of the target; empty for the resource
	// itself.
	Path string
	// Value is the operation's value as encoding/json decoded it; nil when
	// absent or null.
	Value any
}

// Error is a PATCH that cannot be applied. The SCIM edge answers it with
// status 400 and ScimType; Detail is safe to show to the client.
type Error struct {
	// ScimType is one of InvalidPath, NoTarget, InvalidValue, Mutability
	// and InvalidSyntax.
	ScimType string
	// Detail says what is wrong, naming the operation by its position.
	Detail string
}

// Error implements error.
func (e *Error) Error() string { return "patch: " + e.ScimType + ": " + e.Detail }

func fail(scimType, format string, args ...any) *Error {
	return &Error{ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// Apply applies ops, in order, to a deep copy of resource and returns the
// copy. resource itself is never modified, and neither are the operations'
// values, which the result does not share. Either every operation applies
// or Apply returns an *Error and no resource. The package documentation
// lists the rules.
//
// Apply checks each value it writes against sc, but not the parts of
// resource no operation touches. It does not set meta.lastModified or
// meta.version: that is the store's business.
func Apply(sc filter.Schema, resource map[string]any, ops []Operation) (map[string]any, error) {
	doc, _ := deepCopy(resource).(map[string]any)
	if doc == nil {
		doc = map[string]any{}
	}
	p := &patcher{sc: sc, doc: doc}
	for i, op := range ops {
		if err := p.apply(op); err != nil {
			err.Detail = fmt.Sprintf("operation %d (%s): %s", i+1, describe(op), err.Detail)
			return nil, err
		}
	}
	p.syncExtensions()
	return doc, nil
}

// describe names an operation in an error detail.
func describe(op Operation) string {
	kind := strings.ToLower(strings.TrimSpace(op.Op))
	if len(kind) > 16 {
		kind = kind[:16] + "…"
	}
	path := strings.TrimSpace(op.Path)
	if path == "" {
		return fmt.Sprintf("%q without path", kind)
	}
	if len(path) > 80 {
		path = path[:80] + "…"
	}
	return fmt.Sprintf("%q %q", kind, path)
}

// patcher holds the document being patched.
type patcher struct {
	sc  filter.Schema
	doc map[string]any
}

// target is a resolved operation path.
type target struct {
	// ext is the URN of the extension the path names as a whole; then
	// the other fields are unset.
	ext string
	// attr is the attribute, with the sub-attribute when the path names
	// one (name.givenName, emails[...].value).
	attr filter.Attribute
	// filter is the value filter, when the path has one.
	filter fp.Expression
	// path is the path as written, for messages.
	path string
}

func (p *patcher) apply(op Operation) *Error {
	kind := strings.ToLower(strings.TrimSpace(op.Op))
	switch kind {
	case "add", "replace", "remove":
	default:
		return fail(InvalidSyntax, "op must be \"add\", \"remove\" or \"replace\"")
	}
	if strings.TrimSpace(op.Path) == "" {
		if kind == "remove" {
			return fail(NoTarget, "remove needs a path")
		}
		obj, ok := op.Value.(map[string]any)
		if !ok {
			return fail(InvalidValue, "without a path, the value must be an object of attributes")
		}
		return p.applyObject(kind, obj, "")
	}
	t, err := p.resolvePath(op.Path)
	if err != nil {
		return err
	}
	return p.applyTarget(kind, t, op.Value)
}

// resolvePath parses and resolves an operation's path.
func (p *patcher) resolvePath(path string) (target, *Error) {
	parsed, err := filter.ParsePath(path)
	if err != nil {
		return target{}, fail(InvalidPath, "%s", detailOf(err))
	}
	if parsed.ValueExpression == nil {
		if urn, ok := p.sc.ExtensionURN(parsed.AttributePath); ok {
			return target{ext: urn, path: path}, nil
		}
	}
	a, rerr := p.sc.Resolve(parsed.AttributePath)
	if rerr != nil {
		return target{}, fail(InvalidPath, "%s", detailOf(rerr))
	}
	t := target{attr: a, path: path}
	if parsed.ValueExpression == nil {
		return t, nil
	}
	if a.HasSub {
		return target{}, fail(InvalidPath, "a value filter applies to an attribute, not to the sub-attribute %q", a.String())
	}
	if !a.Attr.MultiValued() || a.Attr.AttributeType() != "complex" {
		return target{}, fail(InvalidPath, "%q is not a multi-valued complex attribute, so it cannot take a value filter", a.String())
	}
	if verr := p.sc.ValidateElement(parsed.ValueExpression, a.Attr); verr != nil {
		return target{}, fail(InvalidPath, "%s", detailOf(verr))
	}
	t.filter = parsed.ValueExpression
	if parsed.SubAttribute != nil {
		sub, ok := filter.SubAttribute(a.Attr, *parsed.SubAttribute)
		if !ok {
			return target{}, fail(InvalidPath, "unknown sub-attribute %q of %q", *parsed.SubAttribute, a.String())
		}
		t.attr.Sub, t.attr.HasSub = sub, true
	}
	return t, nil
}

// resolveKey resolves a key of a path-less value: an attribute path with
// no value filter, relative to the extension ext when ext is not "".
func (p *patcher) resolveKey(key, ext string) (target, *Error) {
	parsed, err := filter.ParsePath(key)
	if err != nil {
		return target{}, fail(InvalidPath, "%s", detailOf(err))
	}
	if parsed.ValueExpression != nil {
		return target{}, fail(InvalidPath, "the key %q of a value cannot hold a value filter; use it as the operation's path", key)
	}
	ap := parsed.AttributePath
	if ext != "" {
		if ap.URIPrefix != nil {
			return target{}, fail(InvalidPath, "the key %q inside %q must not repeat a schema URN", key, ext)
		}
		urn := ext
		ap.URIPrefix = &urn
	}
	a, rerr := p.sc.Resolve(ap)
	if rerr != nil {
		return target{}, fail(InvalidPath, "%s", detailOf(rerr))
	}
	return target{attr: a, path: key}, nil
}

func detailOf(err error) string {
	if fe, ok := err.(*filter.Error); ok {
		return fe.Detail
	}
	return err.Error()
}

// applyObject applies a path-less add or replace (or one whose path is a
// whole extension, ext) with the object obj.
func (p *patcher) applyObject(kind string, obj map[string]any, ext string) *Error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := obj[k]
		if ext == "" {
			if e, ok := p.sc.Extension(k); ok {
				if err := p.applyExtension(kind, e.ID, v); err != nil {
					return err
				}
				continue
			}
			if strings.EqualFold(k, "schemas") {
				continue
			}
			if m, ok := v.(map[string]any); ok && p.sc.Core.ID != "" && strings.EqualFold(k, p.sc.Core.ID) {
				// Core attributes nested under the core URN, as some
				// clients send them.
				if err := p.applyObject(kind, m, ""); err != nil {
					return err
				}
				continue
			}
		}
		t, err := p.resolveKey(k, ext)
		if err != nil {
			return err
		}
		if err := p.applyTarget(kind, t, v); err != nil {
			return err
		}
	}
	return nil
}

// applyExtension applies an operation to a whole extension.
func (p *patcher) applyExtension(kind, urn string, value any) *Error {
	if kind == "remove" || (kind == "replace" && !filter.Present(value)) {
		ext, _ := p.sc.Extension(urn)
		for _, a := range ext.Attributes {
			t := target{attr: filter.Attribute{Extension: ext.ID, Attr: a}, path: urn + ":" + a.Name()}
			if err := p.applyTarget("remove", t, nil); err != nil {
				return err
			}
		}
		return nil
	}
	if value == nil {
		return nil
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return fail(InvalidValue, "the value of the extension %q must be an object of its attributes", urn)
	}
	return p.applyObject(kind, obj, urn)
}

// container returns the object that holds the attributes of ext ("" for
// the resource itself), creating it when create is set; nil when it does
// not exist.
func (p *patcher) container(ext string, create bool) map[string]any {
	if ext == "" {
		return p.doc
	}
	v, _ := filter.Lookup(p.doc, ext)
	m, ok := v.(map[string]any)
	if !ok {
		if !create {
			return nil
		}
		m = map[string]any{}
	}
	deleteKey(p.doc, ext)
	p.doc[ext] = m
	return m
}

// syncExtensions drops extension objects left without attributes and,
// when the resource lists its schemas, keeps that list in step with the
// extensions present.
func (p *patcher) syncExtensions() {
	sv, hasSchemas := filter.Lookup(p.doc, "schemas")
	var schemas []any
	if hasSchemas {
		schemas = elements(sv)
	}
	for _, ext := range p.sc.Extensions {
		v, _ := filter.Lookup(p.doc, ext.ID)
		present := filter.Present(v)
		if !present {
			deleteKey(p.doc, ext.ID)
		}
		if !hasSchemas {
			continue
		}
		listed := -1
		for i, s := range schemas {
			if str, ok := s.(string); ok && strings.EqualFold(str, ext.ID) {
				listed = i
				break
			}
		}
		switch {
		case present && listed < 0:
			schemas = append(schemas, ext.ID)
		case !present && listed >= 0:
			schemas = append(schemas[:listed:listed], schemas[listed+1:]...)
		}
	}
	if hasSchemas {
		deleteKey(p.doc, "schemas")
		p.doc["schemas"] = schemas
	}
}

// deleteKey removes key from m, in every spelling of its case.
func deleteKey(m map[string]any, key string) {
	for k := range m {
		if strings.EqualFold(k, key) {
			delete(m, k)
		}
	}
}

// store sets attr in m to v, under the schema's spelling of its name, or
// removes it when v is not present.
func store(m map[string]any, attr schema.CoreAttribute, v any) {
	deleteKey(m, attr.Name())
	if filter.Present(v) {
		m[attr.Name()] = v
	}
}
