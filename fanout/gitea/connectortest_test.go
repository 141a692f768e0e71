package gitea_test

import (
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/gitea"
)

// TestConnectorSuite runs the shared connector suite against the real
// Gitea.
func TestConnectorSuite(t *testing.T) {
	s := startServer(t)
	connectortest.Run(t, connectortest.Target{
		URL: s.g.URL,
		New: func(t testing.TB, u string) fanout.Connector {
			c, err := gitea.Open(gitea.Config{URL: u, AuthSourceID: s.g.AuthSourceID, Organization: org}, s.g.AdminToken, nil)
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Service:  s.g.Service(),
		Suspends: true,
		Groups:   true,
		// The index of login names (see the package documentation).
		Background: func(req string) bool {
			return req == "GET /api/v1/version" || strings.HasPrefix(req, "GET /api/v1/admin/users?") && strings.Contains(req, "sort=id")
		},
	})
}
