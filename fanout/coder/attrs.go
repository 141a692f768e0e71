package coder

import (
	"fmt"
	"strings"

	"github.com/scimbridge/scimbridge/fanout"
)

// parseAttributePath is fanout.ParseAttributePath, with "emails" and
// "email" giving nil: the primary email, which the reconciler already
// puts in fanout.User.Email.
func parseAttributePath(attr string) ([]string, error) {
	if a := strings.TrimSpace(attr); strings.EqualFold(a, "emails") || strings.EqualFold(a, "email") {
		return nil, nil
	}
	return fanout.ParseAttributePath(attr)
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
	v, err := fanout.LookupAttribute(u.Attributes, c.emailPath)
	if err != nil {
		return "", fanout.Terminal(fmt.Errorf("coder: user %q: email attribute %s: %w", u.UserName, c.cfg.EmailAttribute, err))
	}
	return strings.TrimSpace(v), nil
}
