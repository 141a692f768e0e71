package scim_test

import (
	"testing"

	"github.com/scimbridge/scimbridge/conformance/scimtest"
)

// TestConformance runs the black-box RFC 7643/7644 suite against the real
// handler on a real bbolt file over real HTTP.
func TestConformance(t *testing.T) {
	s := newTestServer(t)
	scimtest.Test(t, scimtest.Config{BaseURL: s.URL, Token: testToken})
}
