package coder_test

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
	"github.com/scimbridge/scimbridge/conformance/harness"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/coder"
)

// realServer is a real Coder signing people in through a real OpenID
// provider, with the echo provisioner to build workspaces.
type realServer struct {
	idp   *harness.OIDC
	coder *harness.Coder
}

func startReal(t *testing.T) *realServer {
	t.Helper()
	idp := harness.StartOIDC(t, harness.OIDCOptions{})
	c := harness.StartCoder(t, harness.CoderOptions{OIDC: idp, Env: echoProvisioner})
	return &realServer{idp: idp, coder: c}
}

func (s *realServer) open(t *testing.T) *coder.Connector {
	t.Helper()
	c, err := coder.Open(coder.Config{URL: s.coder.URL}, s.coder.SessionToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *realServer) userCount(t *testing.T) int {
	t.Helper()
	n, err := s.coder.UserCount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRealCoder runs the connector against a real Coder v2.36.1 with a
// real OpenID provider. The subtests share the server.
func TestRealCoder(t *testing.T) {
	s := startReal(t)
	t.Run("ConnectorSuite", s.connectorSuite)
	t.Run("FirstOIDCLoginLandsInProvisionedAccount", s.firstLogin)
	t.Run("GroupsNeedALicence", s.groupsNeedLicence)
	t.Run("FormulaWorkspaces", s.workspaces)
}

// connectorSuite runs the shared connector suite. Coder's groups need a
// Premium licence, which the test server does not have, so groups are
// off.
func (s *realServer) connectorSuite(t *testing.T) {
	svc, err := coderfake.NewService(s.coder.URL, s.coder.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	connectortest.Run(t, connectortest.Target{
		URL:      s.coder.URL,
		New:      opener(s.coder.SessionToken, coder.Config{}),
		Service:  svc,
		Suspends: true,
		Groups:   false,
	})
}

// firstLogin provisions a person, then signs them in through the provider
// for the first time: the login must land in that account, with no new
// user.
func (s *realServer) firstLogin(t *testing.T) {
	ctx := t.Context()
	c := s.open(t)
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}

	id := strings.ToLower(rand.Text()[:6])
	login := "grace" + id // the provider's preferred_username differs from Coder's username
	email := "Grace.Hopper." + id + "@example.com"
	s.idp.AddUser(harness.User{Subject: "Sub-" + rand.Text(), Username: login, Email: email, EmailVerified: true, Name: "Grace Hopper"})
	u := fanout.User{ID: "scim-" + id, UserName: "grace.hopper." + id + "@example.com", Email: email,
		DisplayName: "Grace Hopper", Active: true}

	res, err := c.EnsureUser(ctx, u)
	if err != nil {
		t.Fatalf("EnsureUser: %v", err)
	}
	want := "gracehopper" + id
	if !strings.Contains(res.Note, "created account "+want) {
		t.Fatalf("EnsureUser note %q, want it to create %s", res.Note, want)
	}
	u.RemoteID = res.RemoteID

	before := s.userCount(t)
	token, err := s.coder.LoginOIDC(ctx, s.idp, login)
	if err != nil {
		t.Fatalf("first login: %v", err)
	}
	got, err := s.coder.SessionUser(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("the first login landed in %q, want the provisioned %q", got, want)
	}
	if after := s.userCount(t); after != before {
		t.Errorf("the first login changed the user count from %d to %d", before, after)
	}

	// Linked now: a pass changes nothing, and suspension locks them out.
	again, err := c.EnsureUser(ctx, u)
	if err != nil || again.RemoteID != u.RemoteID || again.Note != "" {
		t.Fatalf("EnsureUser after the login: %+v, %v; want the same account and nothing done", again, err)
	}
	u.Active = false
	if _, err := c.EnsureUser(ctx, u); err != nil {
		t.Fatalf("EnsureUser inactive: %v", err)
	}
	if _, err := s.coder.LoginOIDC(ctx, s.idp, login); err == nil {
		t.Error("a suspended account could still sign in")
	}
	u.Active = true
	if _, err := c.EnsureUser(ctx, u); err != nil {
		t.Fatalf("EnsureUser active: %v", err)
	}
	token, err = s.coder.LoginOIDC(ctx, s.idp, login)
	if err != nil {
		t.Fatalf("login after reactivation: %v", err)
	}
	if got, err := s.coder.SessionUser(ctx, token); err != nil || got != want {
		t.Errorf("login after reactivation landed in %q (%v), want %q", got, err, want)
	}
}

// groupsNeedLicence checks what Check and EnsureGroup report for
// groups: true on a Coder without a Premium licence.
func (s *realServer) groupsNeedLicence(t *testing.T) {
	c, err := coder.Open(coder.Config{URL: s.coder.URL, Groups: true}, s.coder.SessionToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check(t.Context())
	if !fanout.IsTerminal(err) || !strings.Contains(err.Error(), "premium") {
		t.Fatalf("Check with groups on an unlicensed coder: %v, want a terminal error about premium", err)
	}
	_, err = c.EnsureGroup(t.Context(), fanout.Group{ID: "g1", DisplayName: "Platform"})
	if !fanout.IsTerminal(err) || !strings.Contains(err.Error(), "Premium") {
		t.Fatalf("EnsureGroup on an unlicensed coder: %v, want coder's terminal premium error", err)
	}
}
