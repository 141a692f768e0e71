package formulas

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// ResolveParams turns parameter values given as text (a binding's
// params, or --set key=value on the command line) into typed values
// following the formula's schema: "500" becomes the integer 500 for an
// integer parameter. Defaults fill what is not given; a required
// parameter must be given; enum, minimum, maximum and pattern are
// checked; a name the formula does not declare is refused. The values are
// string, int64, float64 or bool. The error is Errors, one per problem,
// with paths "params.<name>".
func (f *Formula) ResolveParams(values map[string]string) (map[string]any, error) {
	var errs Errors
	for _, k := range sortedKeys(values) {
		if _, ok := f.Spec.Parameters[k]; !ok {
			if len(f.Spec.Parameters) == 0 {
				errs.add("params."+k, "unknown parameter: %s declares none", f.Metadata.Name)
			} else {
				errs.add("params."+k, "unknown parameter (known: %s)", strings.Join(sortedKeys(f.Spec.Parameters), ", "))
			}
		}
	}
	out := make(map[string]any, len(f.Spec.Parameters))
	for _, name := range sortedKeys(f.Spec.Parameters) {
		p := f.Spec.Parameters[name]
		path := "params." + name
		text, given := values[name]
		var v any
		switch {
		case given:
			var err error
			if v, err = p.parse(text); err != nil {
				errs.add(path, "%v", err)
				continue
			}
		case p.Default != nil:
			var err error
			if v, err = p.coerce(p.Default); err != nil {
				errs.add(path, "the default: %v", err)
				continue
			}
		default:
			errs.add(path, "required: the formula gives no default")
			continue
		}
		if err := p.admits(v); err != nil {
			errs.add(path, "%v", err)
			continue
		}
		out[name] = v
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// parse reads a value given as text.
func (p Parameter) parse(s string) (any, error) {
	switch p.Type {
	case TypeString:
		return s, nil
	case TypeInteger:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	case TypeNumber:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return x, nil
	case TypeBoolean:
		switch strings.TrimSpace(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true or false", s)
	}
	return nil, fmt.Errorf("the parameter's type %q is unknown", p.Type)
}

// coerce converts a value decoded from YAML or JSON (or set in Go) to
// the parameter's type without reading text: a JSON number 500.0 is the
// integer 500, but the string "500" is not an integer.
func (p Parameter) coerce(v any) (any, error) {
	switch p.Type {
	case TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("%s is not a string", describe(v))
	case TypeInteger:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int64:
			return n, nil
		case uint64:
			if n <= math.MaxInt64 {
				return int64(n), nil
			}
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return int64(n), nil
			}
		}
		return nil, fmt.Errorf("%s is not an integer", describe(v))
	case TypeNumber:
		switch n := v.(type) {
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case uint64:
			return float64(n), nil
		case float64:
			if !math.IsInf(n, 0) && !math.IsNaN(n) {
				return n, nil
			}
		}
		return nil, fmt.Errorf("%s is not a finite number", describe(v))
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s is not true or false", describe(v))
	}
	return nil, fmt.Errorf("the parameter's type %q is unknown", p.Type)
}

// admits checks a typed value against enum, minimum, maximum and pattern.
func (p Parameter) admits(v any) error {
	if len(p.Enum) > 0 {
		found := false
		for _, e := range p.Enum {
			if ev, err := p.coerce(e); err == nil && ev == v {
				found = true
				break
			}
		}
		if !found {
			options := make([]string, len(p.Enum))
			for i, e := range p.Enum {
				options[i] = formatValue(e)
			}
			return fmt.Errorf("%s is not one of %s", describe(v), strings.Join(options, ", "))
		}
	}
	var x float64
	switch n := v.(type) {
	case int64:
		x = float64(n)
	case float64:
		x = n
	}
	if p.Minimum != nil && x < *p.Minimum {
		return fmt.Errorf("%s is less than the minimum %s", describe(v), formatValue(*p.Minimum))
	}
	if p.Maximum != nil && x > *p.Maximum {
		return fmt.Errorf("%s is more than the maximum %s", describe(v), formatValue(*p.Maximum))
	}
	if s, ok := v.(string); ok && p.Pattern != "" {
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			return fmt.Errorf("the pattern does not compile: %v", err)
		}
		if !re.MatchString(s) {
			return fmt.Errorf("%q does not match the pattern %s", s, p.Pattern)
		}
	}
	return nil
}

// check validates the schema of one parameter.
func (p Parameter) check(path string) Errors {
	var errs Errors
	switch p.Type {
	case TypeString, TypeInteger, TypeNumber, TypeBoolean:
	case "":
		errs.add(path+".type", "required (string, integer, number or boolean)")
		return errs
	default:
		errs.add(path+".type", "must be string, integer, number or boolean")
		return errs
	}
	numeric := p.Type == TypeInteger || p.Type == TypeNumber
	for _, b := range []struct {
		name string
		v    *float64
	}{{"minimum", p.Minimum}, {"maximum", p.Maximum}} {
		switch {
		case b.v == nil:
		case !numeric:
			errs.add(path+"."+b.name, "applies only to an integer or a number")
		case math.IsInf(*b.v, 0) || math.IsNaN(*b.v):
			errs.add(path+"."+b.name, "must be a finite number")
		}
	}
	if numeric && p.Minimum != nil && p.Maximum != nil && *p.Minimum > *p.Maximum {
		errs.add(path+".minimum", "is more than the maximum")
	}
	if p.Pattern != "" {
		if p.Type != TypeString {
			errs.add(path+".pattern", "applies only to a string")
		} else if _, err := regexp.Compile(p.Pattern); err != nil {
			errs.add(path+".pattern", "does not compile: %v", err)
		}
	}
	var typed []any
	for i, e := range p.Enum {
		ev, err := p.coerce(e)
		if err != nil {
			errs.add(fmt.Sprintf("%s.enum[%d]", path, i), "%v", err)
			continue
		}
		for _, prev := range typed {
			if prev == ev {
				errs.add(fmt.Sprintf("%s.enum[%d]", path, i), "duplicate value %s", describe(ev))
			}
		}
		typed = append(typed, ev)
	}
	switch {
	case p.Required && p.Default != nil:
		errs.add(path+".default", "a required parameter has no default (drop one of the two)")
	case !p.Required && p.Default == nil:
		errs.add(path, "needs a default, or required: true")
	case p.Default != nil:
		v, err := p.coerce(p.Default)
		if err != nil {
			errs.add(path+".default", "%v", err)
			break
		}
		if len(errs) > 0 {
			break // the schema itself is wrong; do not judge the default by it
		}
		if err := p.admits(v); err != nil {
			errs.add(path+".default", "%v", err)
		}
	}
	return errs
}

// formatValue writes a parameter value as an expression renders it:
// integers in decimal, numbers in the shortest form that reads back
// exactly, booleans as true or false.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// describe shows a value in a message, quoting strings.
func describe(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	if v == nil {
		return "null"
	}
	return formatValue(v)
}
