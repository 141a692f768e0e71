package scim

import (
	"net/url"
	"strings"

	"github.com/scimbridge/scimbridge/scim/filter"
)

// projection is the attributes / excludedAttributes of a request (RFC 7644
// §3.9). id is returned always, and so are meta and schemas, which this
// server treats as always returned too.
type projection struct {
	attrs    []string
	excluded []string
}

func projectionFromURL(v url.Values) (projection, error) {
	return newProjection(splitList(v.Get("attributes")), splitList(v.Get("excludedAttributes")))
}

func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func newProjection(attrs, excluded []string) (projection, error) {
	if len(attrs) > 0 && len(excluded) > 0 {
		return projection{}, errInvalidValue("attributes and excludedAttributes cannot be used together")
	}
	return projection{attrs: attrs, excluded: excluded}, nil
}

// wants reports whether the top-level attribute name is in the response,
// so that a costly attribute (Group members, User groups) is not loaded
// for nothing.
func (p projection) wants(name string) bool {
	if len(p.attrs) > 0 {
		for _, a := range p.attrs {
			if top(a) == strings.ToLower(name) {
				return true
			}
		}
		return false
	}
	for _, a := range p.excluded {
		if strings.EqualFold(a, name) || strings.EqualFold(lastSegment(a), name) && !strings.Contains(a, ".") {
			return false
		}
	}
	return true
}

// top is the lowercased top-level attribute a path starts with, without
// a core schema URN.
func top(path string) string {
	path = strings.ToLower(path)
	for _, urn := range []string{strings.ToLower(SchemaUser) + ":", strings.ToLower(SchemaGroup) + ":"} {
		path = strings.TrimPrefix(path, urn)
	}
	if strings.HasPrefix(path, "urn:") {
		return path // an extension (or its attribute): kept whole
	}
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return path
}

func lastSegment(path string) string {
	if i := strings.LastIndex(path, ":"); i >= 0 {
		return path[i+1:]
	}
	return path
}

// apply returns the projected document; doc itself is not modified.
func (p projection) apply(doc map[string]any, sc filter.Schema) map[string]any {
	switch {
	case len(p.attrs) > 0:
		out := map[string]any{}
		for _, k := range []string{"id", "meta", "schemas"} {
			if v, ok := doc[k]; ok {
				out[k] = v
			}
		}
		for _, a := range p.attrs {
			copyPath(out, doc, a, sc)
		}
		return out
	case len(p.excluded) > 0:
		out := make(map[string]any, len(doc))
		for k, v := range doc {
			out[k] = v
		}
		for _, a := range p.excluded {
			removePath(out, a, sc)
		}
		return out
	}
	return doc
}

// resolve splits a path into the document key holding it (the extension
// URN for an extension attribute) and the attribute path inside it.
func resolve(path string, sc filter.Schema) (container string, parts []string) {
	for _, e := range sc.Extensions {
		if strings.EqualFold(path, e.ID) {
			return e.ID, nil
		}
		if len(path) > len(e.ID) && strings.EqualFold(path[:len(e.ID)], e.ID) && path[len(e.ID)] == ':' {
			return e.ID, strings.Split(path[len(e.ID)+1:], ".")
		}
	}
	id := sc.Core.ID
	if len(path) > len(id) && strings.EqualFold(path[:len(id)], id) && path[len(id)] == ':' {
		path = path[len(id)+1:]
	}
	return "", strings.Split(path, ".")
}

func keyCI(m map[string]any, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

func copyPath(dst, src map[string]any, path string, sc filter.Schema) {
	container, parts := resolve(path, sc)
	if container != "" {
		sub, ok := src[container].(map[string]any)
		if !ok {
			return
		}
		if len(parts) == 0 {
			dst[container] = sub
			return
		}
		d, _ := dst[container].(map[string]any)
		if d == nil {
			d = map[string]any{}
		}
		copyParts(d, sub, parts)
		if len(d) > 0 {
			dst[container] = d
		}
		return
	}
	copyParts(dst, src, parts)
}

func copyParts(dst, src map[string]any, parts []string) {
	k, ok := keyCI(src, parts[0])
	if !ok {
		return
	}
	v := src[k]
	if len(parts) == 1 {
		dst[k] = v
		return
	}
	switch x := v.(type) {
	case map[string]any:
		d, _ := dst[k].(map[string]any)
		if d == nil {
			d = map[string]any{}
		}
		copyParts(d, x, parts[1:])
		if len(d) > 0 {
			dst[k] = d
		}
	case []any:
		// A sub-attribute of a multi-valued attribute: keep that
		// sub-attribute of every element.
		var list []any
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				d := map[string]any{}
				copyParts(d, m, parts[1:])
				if len(d) > 0 {
					list = append(list, d)
				}
			}
		}
		if len(list) > 0 {
			dst[k] = list
		}
	}
}

func removePath(doc map[string]any, path string, sc filter.Schema) {
	container, parts := resolve(path, sc)
	if container != "" {
		sub, ok := doc[container].(map[string]any)
		if !ok {
			return
		}
		if len(parts) == 0 {
			delete(doc, container)
			return
		}
		cp := make(map[string]any, len(sub))
		for k, v := range sub {
			cp[k] = v
		}
		removeParts(cp, parts)
		doc[container] = cp
		return
	}
	if len(parts) == 1 {
		switch strings.ToLower(parts[0]) {
		case "id", "schemas":
			return // returned always
		}
	}
	removeParts(doc, parts)
}

// removeParts deletes a path from m, copying the maps it descends into so
// that the caller's shared values are not modified.
func removeParts(m map[string]any, parts []string) {
	k, ok := keyCI(m, parts[0])
	if !ok {
		return
	}
	if len(parts) == 1 {
		delete(m, k)
		return
	}
	switch x := m[k].(type) {
	case map[string]any:
		cp := make(map[string]any, len(x))
		for kk, v := range x {
			cp[kk] = v
		}
		removeParts(cp, parts[1:])
		m[k] = cp
	case []any:
		list := make([]any, 0, len(x))
		for _, e := range x {
			if em, ok := e.(map[string]any); ok {
				cp := make(map[string]any, len(em))
				for kk, v := range em {
					cp[kk] = v
				}
				removeParts(cp, parts[1:])
				list = append(list, cp)
			} else {
				list = append(list, e)
			}
		}
		m[k] = list
	}
}
