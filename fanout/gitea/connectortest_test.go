package gitea_test

import (
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
	})
}
