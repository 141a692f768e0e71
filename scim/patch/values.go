package patch

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/elimity-com/scim/schema"

	"github.com/scimbridge/scimbridge/scim/filter"
)

// canon checks that v is a value of attr and returns a copy of it that
// shares nothing with v, with sub-attribute names spelled as the schema
// spells them. A multi-valued attribute's value becomes an array (a
// single value is taken as an array of one). null stays nil, and a null
// sub-attribute stays in its object, to mean "remove" when merged.
func canon(attr schema.CoreAttribute, v any, path string) (any, *Error) {
	if v == nil {
		return nil, nil
	}
	if attr.MultiValued() {
		list, err := canonList(attr, v, path)
		if err != nil {
			return nil, err
		}
		return list, nil
	}
	return canonSingle(attr, v, path)
}

// canonList is canon for a multi-valued attribute; null elements are
// dropped.
func canonList(attr schema.CoreAttribute, v any, path string) ([]any, *Error) {
	in := elements(v)
	out := make([]any, 0, len(in))
	for _, el := range in {
		if el == nil {
			continue
		}
		c, err := canonSingle(attr, el, path)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// canonSingle is canon for one value (one element of a multi-valued
// attribute).
func canonSingle(attr schema.CoreAttribute, v any, path string) (any, *Error) {
	bad := func(want string) *Error {
		return fail(InvalidValue, "%q must be %s, not %s", path, want, kindOf(v))
	}
	switch attr.AttributeType() {
	case "string", "reference":
		s, ok := v.(string)
		if !ok {
			return nil, bad("a string")
		}
		return s, nil
	case "binary":
		s, ok := v.(string)
		if !ok {
			return nil, bad("a base64 string")
		}
		// The decoder skips line breaks; RFC 7643 §2.3.6 has none.
		if _, err := base64.StdEncoding.DecodeString(s); err != nil || strings.ContainsAny(s, "\r\n") {
			return nil, fail(InvalidValue, "%q must be base64-encoded binary data", path)
		}
		return s, nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, bad("true or false")
		}
		return b, nil
	case "integer":
		if !isInteger(v) {
			return nil, bad("an integer")
		}
		return v, nil
	case "decimal":
		if !isDecimal(v) {
			return nil, bad("a number")
		}
		return v, nil
	case "dateTime":
		s, ok := v.(string)
		if !ok {
			return nil, bad("a dateTime string")
		}
		if _, ok := filter.ParseDateTime(s); !ok {
			return nil, fail(InvalidValue, "%q must be a dateTime such as \"2011-05-13T04:42:34Z\", not %q", path, s)
		}
		return s, nil
	case "complex":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad("an object")
		}
		out := make(map[string]any, len(m))
		for k, sv := range m {
			sub, ok := filter.SubAttribute(attr, k)
			if !ok {
				return nil, fail(InvalidValue, "%q has no sub-attribute %q", path, k)
			}
			if _, dup := out[sub.Name()]; dup {
				return nil, fail(InvalidValue, "%q gives the sub-attribute %q twice", path, sub.Name())
			}
			c, err := canon(sub, sv, path+"."+sub.Name())
			if err != nil {
				return nil, err
			}
			out[sub.Name()] = c
		}
		return out, nil
	}
	return nil, fail(InvalidValue, "%q has a type this server cannot write", path)
}

// isInteger accepts the integers encoding/json produces: a json.Number
// without fraction or exponent, or a float64 with an integral value, and
// Go's integer types.
func isInteger(v any) bool {
	switch x := v.(type) {
	case json.Number:
		_, err := strconv.ParseInt(string(x), 10, 64)
		return err == nil
	case float64:
		return x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63
	case int, int8, int16, int32, int64, uint8, uint16, uint32:
		return true
	case uint:
		return uint64(x) <= math.MaxInt64
	case uint64:
		return x <= math.MaxInt64
	}
	return false
}

// isDecimal accepts any finite number.
func isDecimal(v any) bool {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	case float64:
		return !math.IsInf(x, 0) && !math.IsNaN(x)
	case float32:
		return !math.IsInf(float64(x), 0) && !math.IsNaN(float64(x))
	}
	return isInteger(v)
}

// kindOf names the JSON type of v for a message.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any, []string, []map[string]any:
		return "an array"
	}
	if isDecimal(v) {
		return "a number"
	}
	return "a value of another type"
}

// elements returns a fresh slice of the elements of a multi-valued value
// (its elements are not copied), or the value itself as the only element.
func elements(v any) []any { return append([]any(nil), filter.Elements(v)...) }

// deepCopy copies the objects and arrays of a decoded JSON value, so the
// copy shares nothing mutable with v. Arrays of objects or strings come
// out as []any.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return map[string]any(nil)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		if x == nil {
			return []any(nil)
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	return v
}
