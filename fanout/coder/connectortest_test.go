package coder_test

import (
	"testing"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/coder"
)

// TestConnectorSuiteFake runs the shared connector suite against the
// fake Coder, with groups (the fake plays a Premium licence).
func TestConnectorSuiteFake(t *testing.T) {
	f := coderfake.Start(t, coderfake.Options{OIDC: true, Premium: true})
	connectortest.Run(t, connectortest.Target{
		URL:      f.URL,
		New:      opener(f.Token, coder.Config{Groups: true}),
		Service:  f.Service(),
		Suspends: true,
		Groups:   true,
	})
}

// opener returns a Target.New that opens a connector with cfg at the
// given url.
func opener(token string, cfg coder.Config) func(t testing.TB, url string) fanout.Connector {
	return func(t testing.TB, url string) fanout.Connector {
		cfg := cfg
		cfg.URL = url
		c, err := coder.Open(cfg, token, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}
