package twenty_test

import (
	"testing"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	twentyfake "github.com/scimbridge/scimbridge/conformance/fakes/twenty"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/twenty"
)

// TestConnectorSuite runs the shared connector suite against the fake
// workspace, once with each onDelete policy.
func TestConnectorSuite(t *testing.T) {
	for _, onDelete := range []string{twenty.OnDeleteKeep, twenty.OnDeleteSoftDelete} {
		t.Run(onDelete, func(t *testing.T) {
			f := twentyfake.New("suite-api-key")
			t.Cleanup(f.Close)
			connectortest.Run(t, connectortest.Target{
				URL: f.URL,
				New: func(t testing.TB, url string) fanout.Connector {
					c, err := twenty.Open(twenty.Config{URL: url, OnDelete: onDelete, GroupCompanies: true}, f.Token, nil)
					if err != nil {
						t.Fatal(err)
					}
					return c
				},
				Service:  f.Service(),
				Suspends: false,
				Groups:   true,
			})
		})
	}
}
