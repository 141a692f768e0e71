package mattermost_test

import (
	"testing"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	mattermostfake "github.com/scimbridge/scimbridge/conformance/fakes/mattermost"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/mattermost"
)

// TestConnectorSuite runs the shared connector suite against the fake
// Mattermost, with group channels.
func TestConnectorSuite(t *testing.T) {
	f := mattermostfake.New(t)
	f.AddTeam("platform")
	connectortest.Run(t, connectortest.Target{
		URL: f.URL,
		New: func(t testing.TB, url string) fanout.Connector {
			c, err := mattermost.Open(mattermost.Config{URL: url, Team: "platform", GroupChannels: true}, f.Token, nil)
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Service:  f.Service(),
		Suspends: true,
		Groups:   true,
	})
}
