package coder

import (
	"fmt"
	"strings"

	"github.com/scimbridge/scimbridge/fanout"
)

// parseAttributePath splits a SCIM attribute path into the keys to follow
// through the SCIM document: "name.formatted" gives [name formatted], and
// "urn:...:2.0:User:employeeNumber" gives [urn:...:2.0:User
// employeeNumber] (an extension's URN ends at its last ':'). "", "emails"
// and "email" give nil: the primary email, which the reconciler already
// puts in fanout.User.Email.
func parseAttributePath(attr string) ([]string, error) {
	attr = strings.TrimSpace(attr)
	if attr == "" || strings.EqualFold(attr, "emails") || strings.EqualFold(attr, "email") {
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

// email returns the email Coder's OIDC login will present for u, read
// from the configured attribute; "" when it is missing.
func (c *Connector) email(u fanout.User) (string, error) {
	if c.emailPath == nil {
		return strings.TrimSpace(u.Email), nil
	}
	if len(c.emailPath) == 1 && strings.EqualFold(c.emailPath[0], "userName") && u.UserName != "" {
		return strings.TrimSpace(u.UserName), nil
	}
	v, err := lookup(u.Attributes, c.emailPath)
	if err != nil {
		return "", fanout.Terminal(fmt.Errorf("coder: user %q: email attribute %s: %w", u.UserName, c.cfg.EmailAttribute, err))
	}
	return strings.TrimSpace(v), nil
}

// lookup follows path through a SCIM document decoded from JSON, matching
// names case-insensitively as SCIM does. A missing value gives "".
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
	s, ok := cur.(string)
	if !ok {
		return "", fmt.Errorf("not a string but %T", cur)
	}
	return s, nil
}
