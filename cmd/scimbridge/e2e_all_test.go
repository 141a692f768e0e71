package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
	mattermostfake "github.com/scimbridge/scimbridge/conformance/fakes/mattermost"
	twentyfake "github.com/scimbridge/scimbridge/conformance/fakes/twenty"
	"github.com/scimbridge/scimbridge/conformance/harness"
	"github.com/scimbridge/scimbridge/fanout/admin"
	"github.com/scimbridge/scimbridge/fanout/coder"
	"github.com/scimbridge/scimbridge/fanout/mattermost"
	"github.com/scimbridge/scimbridge/fanout/twenty"
)

// four is the bridge provisioning into all four services: the real Gitea
// and the real Coder signing people in through the real OpenID provider,
// and the Mattermost and Twenty fakes.
type four struct {
	w        *world
	coder    *harness.Coder
	mm       *mattermostfake.Fake
	tw       *twentyfake.Fake
	b        *bridge
	services map[string]connectortest.Service
	// suspends says which services can block an account; Twenty keeps a
	// person whatever the user's state.
	suspends map[string]bool
	// groups says which services the bridge maps groups into: Coder's
	// groups need its Premium licence, which the test server lacks.
	groups map[string]bool
}

func startFour(t *testing.T) *four {
	t.Helper()
	w := startWorld(t)
	f := &four{w: w, coder: harness.StartCoder(t, harness.CoderOptions{OIDC: w.idp}), mm: mattermostfake.New(t),
		tw: twentyfake.New("twenty-e2e-api-key")}
	t.Cleanup(f.tw.Close)
	f.mm.AddTeam("platform")
	cs, err := coderfake.NewService(f.coder.URL, f.coder.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	f.services = map[string]connectortest.Service{"gitea": w.g.Service(), "coder": cs, "mattermost": f.mm.Service(), "twenty": f.tw.Service()}
	f.suspends = map[string]bool{"gitea": true, "coder": true, "mattermost": true, "twenty": false}
	f.groups = map[string]bool{"gitea": true, "coder": false, "mattermost": true, "twenty": false}
	f.b = startBridgeWith(t, w, func(cfg *Config, env map[string]string) {
		cfg.Connectors.Coder = &coder.Config{URL: f.coder.URL, Timeout: 5 * time.Second}
		cfg.Connectors.Mattermost = &mattermost.Config{URL: f.mm.URL, Team: "platform", GroupChannels: true, Timeout: 5 * time.Second}
		cfg.Connectors.Twenty = &twenty.Config{URL: f.tw.URL, GroupCompanies: true, Timeout: 5 * time.Second}
		env[coder.TokenEnv] = f.coder.SessionToken
		env[mattermost.TokenEnv] = f.mm.Token
		env[twenty.TokenEnv] = f.tw.Token
	})
	return f
}

var connectorNames = []string{"coder", "gitea", "mattermost", "twenty"}

// statuses returns a user's or group's statuses by connector.
func (f *four) statuses(ctx context.Context, kind, ref string) (map[string]admin.StatusView, error) {
	var views []admin.StatusView
	if kind == "group" {
		var gs admin.GroupStatus
		if _, err := do(ctx, f.b.http, http.MethodGet, f.b.base+"/admin/v1/groups/"+url.PathEscape(ref), e2eAdminToken, nil, &gs); err != nil {
			return nil, err
		}
		views = gs.Statuses
	} else {
		us, err := f.b.userStatus(ctx, ref)
		if err != nil {
			return nil, err
		}
		views = us.Statuses
	}
	out := map[string]admin.StatusView{}
	for _, v := range views {
		out[v.Connector] = v
	}
	return out, nil
}

// userIn checks that a user converged in the named services: status ok
// with a link, the account there with the user's email, active as asked
// where the service suspends. It returns the links by connector.
func (f *four) userIn(ctx context.Context, id, email string, active bool, names ...string) (map[string]string, error) {
	sts, err := f.statuses(ctx, "user", id)
	if err != nil {
		return nil, err
	}
	links := map[string]string{}
	for _, name := range names {
		s, ok := sts[name]
		if !ok || s.State != "ok" || s.RemoteID == "" {
			return nil, fmt.Errorf("%s: user %s status %+v", name, email, s)
		}
		a, err := f.services[name].Account(ctx, s.RemoteID)
		if err != nil {
			return nil, fmt.Errorf("%s: account %s of %s: %w", name, s.RemoteID, email, err)
		}
		if !strings.EqualFold(a.Email, email) {
			return nil, fmt.Errorf("%s: account %s has email %q, want %q", name, s.RemoteID, a.Email, email)
		}
		if want := active || !f.suspends[name]; a.Active != want {
			return nil, fmt.Errorf("%s: account of %s active=%v, want %v", name, email, a.Active, want)
		}
		links[name] = s.RemoteID
	}
	return links, nil
}

// groupIn checks that a group converged in every service that maps
// groups, with exactly the members whose links are given (by connector).
func (f *four) groupIn(ctx context.Context, groupID string, members ...map[string]string) error {
	sts, err := f.statuses(ctx, "group", groupID)
	if err != nil {
		return err
	}
	for _, name := range connectorNames {
		s, ok := sts[name]
		if !ok || s.State != "ok" {
			return fmt.Errorf("%s: group status %+v", name, s)
		}
		if !f.groups[name] {
			continue
		}
		got, err := f.services[name].Members(ctx, s.RemoteID)
		if err != nil {
			return fmt.Errorf("%s: members of %s: %w", name, s.RemoteID, err)
		}
		var want []string
		for _, m := range members {
			want = append(want, m[name])
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s: group members %v, want %v", name, got, want)
		}
	}
	return nil
}

// TestE2EAllFourServices takes users through SCIM create, group add,
// deactivate, reactivate and delete, and checks after each step that
// Gitea, Coder, Mattermost and Twenty all converged; then it breaks
// Mattermost and shows the other three are not held back, and that
// scimbridge status shows the stalled service with its error.
func TestE2EAllFourServices(t *testing.T) {
	f := startFour(t)
	ctx := t.Context()
	b, g := f.b, f.w.g
	for _, p := range []struct{ login, sub string }{{"alice", "Alice-Sub-4a1"}, {"bob", "bob-sub-4b2"}, {"carol", "carol-sub-4c3"}} {
		f.w.person(t, p.login, p.sub)
	}
	alice := b.createUser(t, "alice", "Alice-Sub-4a1")
	bob := b.createUser(t, "bob", "bob-sub-4b2")
	var links = map[string]map[string]string{}
	for id, email := range map[string]string{alice: "alice@example.com", bob: "bob@example.com"} {
		eventually(t, g, email+" in all four services", func() (err error) {
			links[id], err = f.userIn(ctx, id, email, true, connectorNames...)
			return err
		})
	}

	// The first OIDC login to Coder lands in the account the bridge made
	// (Coder links it by email), and to Gitea likewise (by subject).
	before, err := f.coder.UserCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	token, err := f.coder.LoginOIDC(ctx, f.w.idp, "alice")
	if err != nil {
		t.Fatalf("alice's OIDC login to Coder: %v", err)
	}
	if who, err := f.coder.SessionUser(ctx, token); err != nil || who != "alice" {
		t.Fatalf("alice's Coder session is %q (%v), want the provisioned alice", who, err)
	}
	if after, _ := f.coder.UserCount(ctx); after != before {
		t.Fatalf("Coder's user count went from %d to %d at alice's first login", before, after)
	}
	if who, err := f.w.login(ctx, "alice"); err != nil || who != "alice" {
		t.Fatalf("alice's Gitea session is %q (%v)", who, err)
	}

	// A group with alice, then bob added.
	grp := b.scim(t, http.MethodPost, "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "ML Team",
		"members": []map[string]any{{"value": alice}}}, http.StatusCreated)
	gid, _ := grp["id"].(string)
	eventually(t, g, "the group with alice everywhere", func() error { return f.groupIn(ctx, gid, links[alice]) })
	b.scim(t, http.MethodPatch, "/Groups/"+gid, patchOp(map[string]any{"op": "add", "path": "members",
		"value": []map[string]any{{"value": bob}}}), http.StatusOK, http.StatusNoContent)
	eventually(t, g, "the group with alice and bob everywhere", func() error { return f.groupIn(ctx, gid, links[alice], links[bob]) })
	if out := statusCommand(t, b.base, "--group", "ML Team"); !strings.Contains(out, "members=2") || strings.Count(out, " ok ") < 4 {
		t.Fatalf("scimbridge status --group:\n%s", out)
	}

	// Deactivate alice, then reactivate her.
	setActive := func(id string, active bool) {
		b.scim(t, http.MethodPatch, "/Users/"+id, patchOp(map[string]any{"op": "replace", "path": "active", "value": active}), http.StatusOK, http.StatusNoContent)
	}
	setActive(alice, false)
	eventually(t, g, "alice suspended everywhere", func() error {
		_, err := f.userIn(ctx, alice, "alice@example.com", false, connectorNames...)
		return err
	})
	setActive(alice, true)
	eventually(t, g, "alice active everywhere again", func() error {
		_, err := f.userIn(ctx, alice, "alice@example.com", true, connectorNames...)
		return err
	})

	// Delete bob: suspended where that exists, kept everywhere, and out
	// of the group.
	b.scim(t, http.MethodDelete, "/Users/"+bob, nil, http.StatusNoContent)
	eventually(t, g, "bob suspended, kept, and out of the group", func() error {
		for _, name := range connectorNames {
			a, err := f.services[name].Account(ctx, links[bob][name])
			if err != nil {
				return fmt.Errorf("%s: bob's account: %w", name, err)
			}
			if a.Active && f.suspends[name] {
				return fmt.Errorf("%s: bob's account is still active", name)
			}
		}
		return f.groupIn(ctx, gid, links[alice])
	})

	// Mattermost fails every request: the other three go on, SCIM
	// answers, and status names the stalled service with its error.
	f.mm.Fail(1<<30, http.StatusServiceUnavailable, "1")
	carol := b.createUser(t, "carol", "carol-sub-4c3")
	eventually(t, g, "carol in the three healthy services", func() (err error) {
		_, err = f.userIn(ctx, carol, "carol@example.com", true, "coder", "gitea", "twenty")
		return err
	})
	eventually(t, g, "mattermost reported failing for carol", func() error {
		sts, err := f.statuses(ctx, "user", carol)
		if err != nil {
			return err
		}
		if s := sts["mattermost"]; s.State != "failed" || !strings.Contains(s.LastError, "503") {
			return fmt.Errorf("mattermost status %+v", s)
		}
		return nil
	})
	out := statusCommand(t, b.base)
	if !strings.Contains(out, "mattermost") || !strings.Contains(out, "user/"+carol) || !strings.Contains(out, "503") {
		t.Fatalf("scimbridge status does not show the stalled mattermost with its error:\n%s", out)
	}
	f.mm.Fail(0, 0, "")
	eventually(t, g, "carol in mattermost once it is back", func() (err error) {
		_, err = f.userIn(ctx, carol, "carol@example.com", true, connectorNames...)
		return err
	})
}
