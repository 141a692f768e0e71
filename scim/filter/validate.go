package filter

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/elimity-com/scim/schema"
	fp "github.com/scim2/filter-parser/v2"
)

// Validate checks expr against the schema. The error, an *Error, names
// the first problem found:
//   - an unknown schema URN, attribute or sub-attribute;
//   - an operator the attribute's type does not support: co, sw and ew
//     apply to string, reference and binary attributes; gt, ge, lt and le
//     to string, reference, integer, decimal and dateTime attributes (RFC
//     7644 §3.4.2.2 forbids them on boolean and binary); eq and ne to
//     every type; pr to every attribute;
//   - a complex attribute compared without a sub-attribute when it has no
//     "value" sub-attribute to stand for it;
//   - a literal of the wrong type: a string for a boolean, a number for a
//     string, a dateTime that does not parse; null is accepted only with
//     eq and ne;
//   - a value path on an attribute that is not complex, or whose filter
//     names something other than a sub-attribute of it.
func (sc Schema) Validate(expr fp.Expression) error {
	return sc.validate(expr, nil)
}

// ValidateElement checks a value filter (the part of a value path between
// the brackets) that is to be matched against the elements of the complex
// attribute attr, with the rules of Validate.
func (sc Schema) ValidateElement(expr fp.Expression, attr schema.CoreAttribute) error {
	if attr.AttributeType() != "complex" {
		return errorf("%q is not a complex attribute, so it cannot take a value filter", attr.Name())
	}
	return sc.validate(expr, &attr)
}

// validate checks expr; elem is the complex attribute whose elements a
// value filter is matched against, nil at the top level.
func (sc Schema) validate(expr fp.Expression, elem *schema.CoreAttribute) error {
	if isNil(expr) {
		return errorf("the filter is empty")
	}
	switch x := expr.(type) {
	case *fp.LogicalExpression:
		switch strings.ToLower(string(x.Operator)) {
		case string(fp.AND), string(fp.OR):
		default:
			return errorf("unknown logical operator %q", x.Operator)
		}
		if err := sc.validate(x.Left, elem); err != nil {
			return err
		}
		return sc.validate(x.Right, elem)
	case *fp.NotExpression:
		return sc.validate(x.Expression, elem)
	case *fp.AttributeExpression:
		if elem != nil {
			sub, err := elementSub(x.AttributePath, *elem)
			if err != nil {
				return err
			}
			return checkComparison(elem.Name()+"."+sub.Name(), sub, x.Operator, x.CompareValue)
		}
		a, err := sc.Resolve(x.AttributePath)
		if err != nil {
			return err
		}
		return checkComparison(a.String(), a.Leaf(), x.Operator, x.CompareValue)
	case *fp.ValuePath:
		if elem != nil {
			return errorf("a value filter cannot hold another value path (%q)", x.AttributePath.String())
		}
		if x.AttributePath.SubAttribute != nil {
			return errorf("%q: a value path applies to an attribute, not to a sub-attribute", x.AttributePath.String())
		}
		a, err := sc.Resolve(x.AttributePath)
		if err != nil {
			return err
		}
		if a.Attr.AttributeType() != "complex" {
			return errorf("%q is not a complex attribute, so it cannot take a value filter", a.String())
		}
		return sc.validate(x.ValueFilter, &a.Attr)
	}
	return errorf("unsupported expression %T", expr)
}

// checkComparison checks one comparison on the attribute attr, which
// path names in messages.
func checkComparison(path string, attr schema.CoreAttribute, op fp.CompareOperator, lit any) error {
	op = fp.CompareOperator(strings.ToLower(string(op)))
	switch op {
	case fp.PR:
		return nil
	case fp.EQ, fp.NE, fp.CO, fp.SW, fp.EW, fp.GT, fp.GE, fp.LT, fp.LE:
	default:
		return errorf("unknown comparison operator %q", op)
	}
	typ := attr.AttributeType()
	if typ == "complex" {
		vs, ok := SubAttribute(attr, "value")
		if !ok {
			return errorf("%q is a complex attribute; compare one of its sub-attributes, or use pr", path)
		}
		attr, typ, path = vs, vs.AttributeType(), path+".value"
	}
	if lit == nil {
		if op != fp.EQ && op != fp.NE {
			return errorf("%q: only eq and ne compare with null", path)
		}
		return nil
	}
	switch op {
	case fp.CO, fp.SW, fp.EW:
		if !isStringType(attr) {
			return errorf("operator %s does not apply to %q, which is of type %s", op, path, typ)
		}
	case fp.GT, fp.GE, fp.LT, fp.LE:
		switch typ {
		case "string", "reference", "integer", "decimal", "dateTime":
		default:
			return errorf("operator %s does not apply to %q, which is of type %s", op, path, typ)
		}
	}
	return checkLiteral(path, attr, lit)
}

// checkLiteral checks that a comparison literal has the attribute's type.
func checkLiteral(path string, attr schema.CoreAttribute, lit any) error {
	typ := attr.AttributeType()
	want := ""
	switch typ {
	case "string", "reference", "binary":
		if _, ok := lit.(string); !ok {
			want = "a string"
		}
	case "boolean":
		if _, ok := lit.(bool); !ok {
			want = "true or false"
		}
	case "integer", "decimal":
		if _, ok := toNumber(lit); !ok {
			want = "a number"
		}
	case "dateTime":
		s, ok := lit.(string)
		if !ok {
			want = "a string holding a dateTime"
		} else if _, ok := ParseDateTime(s); !ok {
			return errorf("%q is a dateTime attribute and %q is not a dateTime such as \"2011-05-13T04:42:34Z\"", path, s)
		}
	default:
		return errorf("%q cannot be compared", path)
	}
	if want != "" {
		return errorf("%q is of type %s; compare it with %s, not %s", path, typ, want, literal(lit))
	}
	return nil
}

// literal renders a comparison literal for a message.
func literal(v any) string {
	switch x := v.(type) {
	case string:
		return quoteShort(x)
	case json.Number:
		return string(x)
	}
	return fmt.Sprint(v)
}
