package filter

import (
	"strings"

	"github.com/elimity-com/scim/schema"
	fp "github.com/scim2/filter-parser/v2"
)

// Schema is what the evaluator and the PATCH engine know of a resource
// type: its core schema and its extensions.
//
// The common attributes of RFC 7643 §3.1 (schemas, id, externalId, meta)
// are implied when Core does not list them, so a Schema built straight
// from schema.CoreUserSchema() can filter on id and meta.lastModified.
type Schema struct {
	// Core is the resource type's own schema. Its attributes sit at the
	// top level of a resource, and a path may name them bare or behind
	// Core.ID ("urn:ietf:params:scim:schemas:core:2.0:User:userName").
	Core schema.Schema
	// Extensions are the schema extensions of the resource type. Their
	// attributes sit in an object under the extension's URN, and a path
	// names them behind that URN.
	Extensions []schema.Schema
}

// commonAttributes is a read-only table of the RFC 7643 §3.1 attributes,
// looked up when Core does not define them.
var commonAttributes = schema.CommonAttributes()

// Attribute is an attribute path resolved against a Schema.
type Attribute struct {
	// Extension is the URN of the extension schema the attribute belongs
	// to, as the Schema spells it, or "" for the core schema.
	Extension string
	// Attr is the top-level attribute.
	Attr schema.CoreAttribute
	// Sub is the sub-attribute the path names; meaningful only when
	// HasSub is true.
	Sub schema.CoreAttribute
	// HasSub says whether the path names a sub-attribute of Attr.
	HasSub bool
}

// Leaf returns the attribute whose values the path designates: Sub when
// the path names one, Attr otherwise.
func (a Attribute) Leaf() schema.CoreAttribute {
	if a.HasSub {
		return a.Sub
	}
	return a.Attr
}

// String returns the path in canonical spelling, URN-qualified for an
// extension attribute.
func (a Attribute) String() string {
	s := a.Attr.Name()
	if a.Extension != "" {
		s = a.Extension + ":" + s
	}
	if a.HasSub {
		s += "." + a.Sub.Name()
	}
	return s
}

// Resolve finds the attribute a path names. Names are matched
// case-insensitively (RFC 7643 §2.1). A path without a URN names a core
// or common attribute or, when no core attribute has that name, the
// attribute of the one extension that has it. The error is an *Error
// naming the unknown schema, attribute or sub-attribute.
func (sc Schema) Resolve(p fp.AttributePath) (Attribute, error) {
	var (
		res Attribute
		ok  bool
	)
	uri := p.URI()
	switch {
	case uri == "":
		res.Attr, ok = sc.coreAttr(p.AttributeName)
		if !ok {
			found := 0
			for _, ext := range sc.Extensions {
				if a, hit := ext.Attributes.ContainsAttribute(p.AttributeName); hit {
					res.Attr, res.Extension = a, ext.ID
					found++
				}
			}
			if found > 1 {
				return Attribute{}, errorf("the attribute %q is defined by more than one schema extension; qualify it with the extension's URN", p.AttributeName)
			}
			ok = found == 1
		}
	case sc.Core.ID != "" && strings.EqualFold(uri, sc.Core.ID):
		res.Attr, ok = sc.coreAttr(p.AttributeName)
	default:
		ext, isExt := sc.Extension(uri)
		if !isExt {
			if _, whole := sc.ExtensionURN(p); whole {
				return Attribute{}, errorf("%q names a whole schema extension, not an attribute", p.String())
			}
			return Attribute{}, errorf("unknown schema %q", uri)
		}
		res.Extension = ext.ID
		res.Attr, ok = ext.Attributes.ContainsAttribute(p.AttributeName)
	}
	if !ok {
		return Attribute{}, errorf("unknown attribute %q", p.String())
	}
	if p.SubAttribute != nil {
		sub, ok := SubAttribute(res.Attr, *p.SubAttribute)
		if !ok {
			return Attribute{}, errorf("unknown sub-attribute %q", p.String())
		}
		res.Sub, res.HasSub = sub, true
	}
	return res, nil
}

// coreAttr finds a core attribute, or a common one the core schema does
// not define.
func (sc Schema) coreAttr(name string) (schema.CoreAttribute, bool) {
	if a, ok := sc.Core.Attributes.ContainsAttribute(name); ok {
		return a, true
	}
	for _, a := range commonAttributes {
		if strings.EqualFold(a.Name(), name) {
			return a, true
		}
	}
	return schema.CoreAttribute{}, false
}

// Extension returns the extension schema whose URN is urn, compared
// case-insensitively.
func (sc Schema) Extension(urn string) (schema.Schema, bool) {
	for _, ext := range sc.Extensions {
		if strings.EqualFold(ext.ID, urn) {
			return ext, true
		}
	}
	return schema.Schema{}, false
}

// ExtensionURN reports whether a parsed path is exactly the URN of one of
// the extensions (a PATCH may target a whole extension that way), and
// returns that URN as the Schema spells it. The grammar parses such a
// path as a URI prefix and an attribute named after the URN's last
// segment.
func (sc Schema) ExtensionURN(p fp.AttributePath) (string, bool) {
	if p.URIPrefix == nil || p.SubAttribute != nil {
		return "", false
	}
	ext, ok := sc.Extension(p.URI() + ":" + p.AttributeName)
	return ext.ID, ok
}

// SubAttribute finds the sub-attribute of a complex attribute by name,
// case-insensitively.
func SubAttribute(attr schema.CoreAttribute, name string) (schema.CoreAttribute, bool) {
	if attr.AttributeType() != "complex" {
		return schema.CoreAttribute{}, false
	}
	return attr.SubAttributes().ContainsAttribute(name)
}

// Lookup returns the value stored under key in m, matching the key
// case-insensitively. An exact match wins; among keys that differ only in
// case, the smallest wins, so the answer does not depend on map order.
func Lookup(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	var (
		best  string
		val   any
		found bool
	)
	for k, v := range m {
		if strings.EqualFold(k, key) && (!found || k < best) {
			best, val, found = k, v, true
		}
	}
	return val, found
}
