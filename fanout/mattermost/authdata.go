package mattermost

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

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

// errNotString is an attribute holding something other than a string or
// a number.
var errNotString = errors.New("not a string")

func (c *Connector) authDataAttributeName() string {
	if c.authPath == nil {
		return "externalId"
	}
	return c.cfg.AuthDataAttribute
}

// authData returns the auth_data u's account must carry, read from the
// configured attribute. A missing attribute gives "" and no error; a value
// Mattermost cannot store, or one that is not a number for gitlab, is a
// terminal error.
func (c *Connector) authData(u fanout.User) (string, error) {
	v, err := c.attribute(u)
	if err != nil {
		return "", fanout.Terminal(fmt.Errorf("mattermost: user %q: auth data attribute %s: %w", u.UserName, c.authDataAttributeName(), err))
	}
	switch {
	case v == "":
		return "", nil
	case v != strings.TrimSpace(v):
		return "", fanout.Terminal(fmt.Errorf("mattermost: user %q: %s has leading or trailing white space", u.UserName, c.authDataAttributeName()))
	case len(v) > model.UserAuthDataMaxLength:
		return "", fanout.Terminal(fmt.Errorf("mattermost: user %q: %s is longer than Mattermost's %d bytes of auth data", u.UserName, c.authDataAttributeName(), model.UserAuthDataMaxLength))
	case c.cfg.AuthService == model.ServiceGitlab && !isDigits(v):
		return "", fanout.Terminal(fmt.Errorf("mattermost: user %q: %s is %q, but gitlab sign-in is linked by GitLab's numeric user id", u.UserName, c.authDataAttributeName(), v))
	}
	return v, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func (c *Connector) attribute(u fanout.User) (string, error) {
	if c.authPath == nil {
		return u.Subject, nil
	}
	if len(c.authPath) == 1 {
		switch {
		case strings.EqualFold(c.authPath[0], "userName") && u.UserName != "":
			return u.UserName, nil
		case strings.EqualFold(c.authPath[0], "id") && u.ID != "":
			return u.ID, nil
		}
	}
	return lookup(u.Attributes, c.authPath)
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
