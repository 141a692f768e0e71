package gitea

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/fanout"
)

// parseAttributePath splits a SCIM attribute path into the keys to follow
// through the SCIM document: "name.givenName" gives [name givenName], and
// "urn:...:2.0:User:employeeNumber" gives [urn:...:2.0:User
// employeeNumber] (an extension's URN ends at its last ':'). "" and
// "externalId" give nil: the reconciler already puts externalId in
// fanout.User.Subject.
func parseAttributePath(attr string) ([]string, error) {
	attr = strings.TrimSpace(attr)
	if attr == "" || strings.EqualFold(attr, "externalId") {
		return nil, nil
	}
	if strings.ContainsAny(attr, "[] \"") {
		return nil, fmt.Errorf("%q: want an attribute name or a dotted path, without filters", attr)
	}
	var path []string
	rest := attr
	if len(attr) > 4 && strings.EqualFold(attr[:4], "urn:") {
		i := strings.LastIndexByte(attr, ':')
		path = append(path, attr[:i])
		rest = attr[i+1:]
	}
	for part := range strings.SplitSeq(rest, ".") {
		if part == "" {
			return nil, fmt.Errorf("%q: empty name in the path", attr)
		}
		path = append(path, part)
	}
	return path, nil
}

// errNotString is a subject attribute holding something other than a
// string or a number.
var errNotString = errors.New("not a string")

// subject returns the user's OIDC subject, read from the configured
// attribute. A missing attribute gives "".
func (c *Connector) subject(u fanout.User) (string, error) {
	if c.subjectPath == nil {
		return u.Subject, nil
	}
	if len(c.subjectPath) == 1 {
		switch {
		case strings.EqualFold(c.subjectPath[0], "userName") && u.UserName != "":
			return u.UserName, nil
		case strings.EqualFold(c.subjectPath[0], "id") && u.ID != "":
			return u.ID, nil
		}
	}
	v, err := lookup(u.Attributes, c.subjectPath)
	if err != nil {
		return "", fanout.Terminal(fmt.Errorf("gitea: user %q: subject attribute %s: %w", u.UserName, c.cfg.SubjectAttribute, err))
	}
	return v, nil
}

// lookup follows path through a SCIM document decoded from JSON, matching
// names case-insensitively as SCIM does.
func lookup(doc map[string]any, path []string) (string, error) {
	var cur any = doc
	for _, key := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", nil
		}
		v, ok := m[key]
		if !ok {
			for k, kv := range m {
				if strings.EqualFold(k, key) {
					v, ok = kv, true
					break
				}
			}
		}
		if !ok || v == nil {
			return "", nil
		}
		cur = v
	}
	switch v := cur.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), nil
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	default:
		return "", fmt.Errorf("%w but %T", errNotString, cur)
	}
}
