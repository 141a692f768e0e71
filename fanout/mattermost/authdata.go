package mattermost

import (
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/scimbridge/scimbridge/fanout"
)

// parseAttributePath is fanout.ParseAttributePath, with "externalId"
// giving nil: the reconciler already puts externalId in
// fanout.User.Subject.
func parseAttributePath(attr string) ([]string, error) {
	if strings.EqualFold(strings.TrimSpace(attr), "externalId") {
		return nil, nil
	}
	return fanout.ParseAttributePath(attr)
}

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
	return fanout.LookupAttribute(u.Attributes, c.authPath)
}
