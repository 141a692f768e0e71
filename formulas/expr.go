package formulas

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/internal/fold"
)

// userNames are the user attributes an expression may read, by the name
// written after "user.".
var userNames = map[string]func(UserView) string{
	"id":              func(u UserView) string { return u.ID },
	"userName":        func(u UserView) string { return u.UserName },
	"externalId":      func(u UserView) string { return u.ExternalID },
	"email":           func(u UserView) string { return u.Email },
	"name.givenName":  func(u UserView) string { return u.GivenName },
	"name.familyName": func(u UserView) string { return u.FamilyName },
	"displayName":     func(u UserView) string { return u.DisplayName },
	"subject":         func(u UserView) string { return u.Subject },
}

// groupNames are the group attributes an expression may read.
var groupNames = map[string]func(GroupView) string{
	"id":          func(g GroupView) string { return g.ID },
	"displayName": func(g GroupView) string { return g.DisplayName },
}

// filters are the pure functions an expression may apply, in order.
var filters = map[string]func(string) string{
	"lower": strings.ToLower,
	"local": localPart,
	"slug":  slug,
}

// truncName is the one filter that takes an argument, a length.
const truncName = "trunc"

// maxTrunc bounds trunc's length, which no service's names come near.
const maxTrunc = 1000

// truncate keeps the first n characters of s, and drops the '-', '_' and
// '.' the cut leaves at the end, which no service accepts there ("ana-
// maria" cut to 4 gives "ana").
func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		s = strings.TrimRight(string(r[:n]), "-_.")
	}
	return s
}

// localPart is the part of an email address before its last '@' (s
// itself when it has none).
func localPart(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i]
	}
	return s
}

// slug lowercases s, removes accents (spelling out æ, ø, ß, ł, œ, đ and
// þ), and turns every run of characters other than a-z and 0-9 into one
// '-', with none at either end ("Ana María O'Neil" gives
// "ana-maria-o-neil").
func slug(s string) string {
	s = fold.Accents(s)
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

// ref is one expression: a dotted name and the filters applied to it.
type ref struct {
	name    string
	filters []filterCall
}

// filterCall is one filter of an expression; n is trunc's length.
type filterCall struct {
	name string
	n    int
}

// apply runs the filter on v.
func (f filterCall) apply(v string) (string, error) {
	if f.name == truncName {
		return truncate(v, f.n), nil
	}
	fn, ok := filters[f.name]
	if !ok {
		return "", fmt.Errorf("unknown filter %q", f.name)
	}
	return fn(v), nil
}

// parseFilter parses one filter: a name, and for trunc its length.
func parseFilter(s string) (filterCall, string) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return filterCall{}, "a filter is missing after '|'"
	}
	name := fields[0]
	if name == truncName {
		if len(fields) != 2 {
			return filterCall{}, "trunc takes a length: | trunc 20"
		}
		n, err := strconv.Atoi(fields[1])
		if err != nil || n < 1 || n > maxTrunc {
			return filterCall{}, fmt.Sprintf("trunc's length must be a whole number from 1 to %d, not %q", maxTrunc, fields[1])
		}
		return filterCall{name: name, n: n}, ""
	}
	if _, ok := filters[name]; !ok {
		return filterCall{}, fmt.Sprintf("unknown filter %q (known: %s)", name, strings.Join(append(sortedKeys(filters), truncName+" N"), ", "))
	}
	if len(fields) > 1 {
		return filterCall{}, fmt.Sprintf("filter %q takes no argument", name)
	}
	return filterCall{name: name}, ""
}

// segment is a literal run of text, or an expression when ref is set.
type segment struct {
	text string
	ref  *ref
}

// template is a string field split into literals and expressions.
type template []segment

// static reports whether the field has no expression.
func (t template) static() bool {
	for _, s := range t {
		if s.ref != nil {
			return false
		}
	}
	return true
}

const (
	exprOpen  = "${{"
	exprClose = "}}"
)

// parseTemplate splits s into literals and expressions. It checks the
// syntax only; names are checked by checkRefs.
func parseTemplate(s string) (template, []string) {
	var t template
	var problems []string
	for {
		i := strings.Index(s, exprOpen)
		if i < 0 {
			if s != "" {
				t = append(t, segment{text: s})
			}
			return t, problems
		}
		if i > 0 {
			t = append(t, segment{text: s[:i]})
		}
		s = s[i+len(exprOpen):]
		j := strings.Index(s, exprClose)
		if j < 0 {
			problems = append(problems, fmt.Sprintf("expression %q is not closed with %q", exprOpen+s, exprClose))
			return t, problems
		}
		body := s[:j]
		s = s[j+len(exprClose):]
		r, err := parseRef(body)
		if err != "" {
			problems = append(problems, fmt.Sprintf("expression %q: %s", exprOpen+body+exprClose, err))
			continue
		}
		t = append(t, segment{ref: r})
	}
}

// parseRef parses "name | filter | filter".
func parseRef(body string) (*ref, string) {
	parts := strings.Split(body, "|")
	name := strings.TrimSpace(parts[0])
	if name == "" {
		return nil, "a name is missing, such as user.userName"
	}
	if !isDottedName(name) {
		return nil, "an expression is a dotted name such as user.userName, optionally followed by filters (| lower); nothing else is evaluated"
	}
	r := &ref{name: name}
	for _, p := range parts[1:] {
		f, problem := parseFilter(p)
		if problem != "" {
			return nil, problem
		}
		r.filters = append(r.filters, f)
	}
	return r, ""
}

func isDottedName(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return false
			}
		}
	}
	return true
}

// checkRef reports what is wrong with the name an expression reads, or "".
func checkRef(r *ref, params map[string]Parameter) string {
	scope, rest, _ := strings.Cut(r.name, ".")
	switch scope {
	case "user":
		if _, ok := userNames[rest]; !ok {
			return fmt.Sprintf("unknown name %q (known: %s)", r.name, known("user.", userNames))
		}
	case "group":
		if _, ok := groupNames[rest]; !ok {
			return fmt.Sprintf("unknown name %q (known: %s)", r.name, known("group.", groupNames))
		}
	case "params":
		if _, ok := params[rest]; !ok {
			if len(params) == 0 {
				return fmt.Sprintf("unknown name %q: the formula declares no parameters", r.name)
			}
			return fmt.Sprintf("unknown name %q (parameters: %s)", r.name, known("params.", params))
		}
	default:
		return fmt.Sprintf("unknown name %q: a name starts with user., group. or params.", r.name)
	}
	return ""
}

// scope is what expressions read during an expansion.
type scope struct {
	subject Subject
	params  map[string]any
}

// value evaluates one expression; a missing value is an error.
func (sc scope) value(r *ref) (string, error) {
	kind, rest, _ := strings.Cut(r.name, ".")
	var v string
	switch kind {
	case "user":
		get, ok := userNames[rest]
		if !ok {
			return "", fmt.Errorf("unknown name %q", r.name)
		}
		v = get(sc.subject.User)
	case "group":
		get, ok := groupNames[rest]
		if !ok {
			return "", fmt.Errorf("unknown name %q", r.name)
		}
		v = get(sc.subject.Group)
	case "params":
		p, ok := sc.params[rest]
		if !ok {
			return "", fmt.Errorf("parameter %q has no value (resolve the parameters first)", rest)
		}
		v = formatValue(p)
	default:
		return "", fmt.Errorf("unknown name %q", r.name)
	}
	for _, f := range r.filters {
		var err error
		if v, err = f.apply(v); err != nil {
			return "", err
		}
	}
	return v, nil
}

// render evaluates a template.
func (t template) render(sc scope) (string, []string) {
	var b strings.Builder
	var problems []string
	for _, s := range t {
		if s.ref == nil {
			b.WriteString(s.text)
			continue
		}
		v, err := sc.value(s.ref)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		b.WriteString(v)
	}
	return b.String(), problems
}

func known[V any](prefix string, m map[string]V) string {
	keys := sortedKeys(m)
	for i, k := range keys {
		keys[i] = prefix + k
	}
	return strings.Join(keys, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
