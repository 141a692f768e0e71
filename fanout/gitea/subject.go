package gitea

import (
	"fmt"
	"strings"

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
	v, err := fanout.LookupAttribute(u.Attributes, c.subjectPath)
	if err != nil {
		return "", fanout.Terminal(fmt.Errorf("gitea: user %q: subject attribute %s: %w", u.UserName, c.cfg.SubjectAttribute, err))
	}
	return v, nil
}
