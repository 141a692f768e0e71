package mattermost_test

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	mattermostfake "github.com/scimbridge/scimbridge/conformance/fakes/mattermost"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/mattermost"
	"github.com/scimbridge/scimbridge/formulas"
)

// src is a formula binding, as Expand names it.
func src(formula, group string) formulas.Source {
	return formulas.Source{Formula: formula, Version: "1.0.0", GroupID: "g-" + group, Group: group}
}

// channel is a formula channel asked for by formula (bound to group ml)
// with policy.
func channel(team, name, formula string, private bool, policy formulas.RemovePolicy) formulas.Channel {
	return formulas.Channel{Team: team, Name: name, DisplayName: strings.ToUpper(name[:1]) + name[1:], Private: private,
		Origin: formulas.Origin{Source: src(formula, "ml"), OnRemove: policy}}
}

func resources(chs ...formulas.Channel) formulas.Resources {
	return formulas.Resources{Mattermost: formulas.MattermostResources{Channels: chs}}
}

// keys lists the keys of a result's channels, sorted.
func keys(res formulas.Resources) []string {
	var out []string
	for _, c := range res.Mattermost.Channels {
		out = append(out, c.Key())
	}
	slices.Sort(out)
	return out
}

// writes returns the requests of log that are not reads.
func writes(log []string) []string {
	var out []string
	for _, l := range log {
		if !strings.HasPrefix(l, "GET ") {
			out = append(out, l)
		}
	}
	return out
}

// apply runs EnsureResources and fails the test on an error.
func apply(t *testing.T, c *mattermost.Connector, u fanout.User, want, had formulas.Resources) formulas.Resources {
	t.Helper()
	got, err := c.EnsureResources(t.Context(), u, want, had)
	if err != nil {
		t.Fatalf("EnsureResources: %v", err)
	}
	return got
}

// resEnv is a fake Mattermost with the connector's team and a second team,
// research, and one provisioned user who is in neither.
type resEnv struct {
	env
	research *model.Team
	c        *mattermost.Connector
	u        fanout.User
}

func newResEnv(t *testing.T) resEnv {
	e := newEnv(t)
	r := resEnv{env: e, research: e.f.AddTeam("research"), c: e.connector(t, nil)}
	r.u, _ = ensure(t, r.c, newUser("alice"))
	return r
}

func (r resEnv) inChannel(teamID, name string) bool {
	ch := r.f.ChannelByName(teamID, name)
	return ch != nil && slices.Contains(r.f.ChannelMembers(ch.Id), r.u.RemoteID)
}

func TestResourcesCreate(t *testing.T) {
	r := newResEnv(t)
	want := resources(channel("research", "ml-research", "ml", true, formulas.OnRemoveSuspend))

	start := len(r.f.Log())
	got := apply(t, r.c, r.u, want, formulas.Resources{})
	if !slices.Equal(keys(got), []string{"research/ml-research"}) || len(got.Gitea.Repos)+len(got.Coder.Workspaces) != 0 || got.Twenty.Person != nil {
		t.Fatalf("applied %+v", got)
	}
	ch := r.f.ChannelByName(r.research.Id, "ml-research")
	if ch == nil || ch.Type != model.ChannelTypePrivate || ch.DisplayName != "Ml-research" || ch.DeleteAt != 0 ||
		!strings.Contains(ch.Purpose, "ml@1.0.0") {
		t.Fatalf("channel %+v", ch)
	}
	if !slices.Contains(r.f.TeamMembers(r.research.Id), r.u.RemoteID) || !r.inChannel(r.research.Id, "ml-research") {
		t.Fatal("the user is not in the team and the channel")
	}
	if slices.Contains(r.f.TeamMembers(r.team.Id), r.u.RemoteID) {
		t.Fatal("a formula channel brought the user into the connector's own team")
	}
	wantWrites := []string{
		"POST /api/v4/channels",
		"POST /api/v4/teams/" + r.research.Id + "/members",
		"POST /api/v4/channels/" + ch.Id + "/members",
	}
	if w := writes(r.f.Log()[start:]); !slices.Equal(w, wantWrites) {
		t.Fatalf("writes %v, want %v", w, wantWrites)
	}

	t.Run("IdempotentWithoutWrites", func(t *testing.T) {
		start := len(r.f.Log())
		again := apply(t, r.c, r.u, want, got)
		if w := writes(r.f.Log()[start:]); len(w) != 0 {
			t.Fatalf("a converged pass wrote %v", w)
		}
		if !slices.Equal(keys(again), keys(got)) {
			t.Fatalf("applied %v, want %v", keys(again), keys(got))
		}
		// The same from an empty had: nothing is created twice.
		apply(t, r.c, r.u, want, formulas.Resources{})
		if n := len(r.f.Channels(r.research.Id)); n != 3 { // town-square, off-topic, ml-research
			t.Fatalf("%d channels in research", n)
		}
	})
	t.Run("RepairsDrift", func(t *testing.T) {
		if _, err := newEnvClient(r.env).RemoveUserFromChannel(t.Context(), ch.Id, r.u.RemoteID); err != nil {
			t.Fatal(err)
		}
		apply(t, r.c, r.u, want, got)
		if !r.inChannel(r.research.Id, "ml-research") {
			t.Fatal("a membership removed by hand was not restored")
		}
	})
	t.Run("ChangedFieldsLeaveTheSharedChannelAlone", func(t *testing.T) {
		changed := channel("research", "ml-research", "ml", false, formulas.OnRemoveSuspend)
		changed.DisplayName = "Machine Learning"
		plan, err := r.c.PlanResources(t.Context(), r.u, resources(changed), got)
		if err != nil || len(plan) != 0 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		start := len(r.f.Log())
		apply(t, r.c, r.u, resources(changed), got)
		if w := writes(r.f.Log()[start:]); len(w) != 0 {
			t.Fatalf("wrote %v", w)
		}
		if now := r.f.Channel(ch.Id); now.DisplayName != ch.DisplayName || now.Type != ch.Type {
			t.Fatalf("the channel changed: %+v", now)
		}
	})
}

func TestResourcesAdoptsExistingChannel(t *testing.T) {
	r := newResEnv(t)
	ch := r.f.AddChannel(r.research.Id, "papers", "Reading group", model.ChannelTypeOpen, "Papers we read")
	r.f.JoinTeam(r.research.Id, r.u.RemoteID)
	want := resources(channel("research", "papers", "ml", true, ""))

	plan, err := r.c.PlanResources(t.Context(), r.u, want, formulas.Resources{})
	if err != nil || len(plan) != 1 || plan[0].Action != fanout.ActionCreate || plan[0].Detail != "join existing channel" {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	start := len(r.f.Log())
	apply(t, r.c, r.u, want, formulas.Resources{})
	if w := writes(r.f.Log()[start:]); !slices.Equal(w, []string{"POST /api/v4/channels/" + ch.Id + "/members"}) {
		t.Fatalf("writes %v", w)
	}
	if now := r.f.Channel(ch.Id); now.Type != model.ChannelTypeOpen || now.DisplayName != "Reading group" || now.Purpose != "Papers we read" {
		t.Fatalf("the adopted channel changed: %+v", now)
	}
	if len(r.f.Channels(r.research.Id)) != 3 || !r.inChannel(r.research.Id, "papers") {
		t.Fatal("not joined to the one existing channel")
	}
}

func TestResourcesOnRemove(t *testing.T) {
	for _, tt := range []struct {
		policy formulas.RemovePolicy
		stays  bool
		action string
	}{
		{formulas.OnRemoveKeep, true, fanout.ActionKeep},
		{formulas.OnRemoveSuspend, false, fanout.ActionRemove},
		{"", false, fanout.ActionRemove}, // the default is suspend
		{formulas.OnRemoveDelete, false, fanout.ActionRemove},
	} {
		name := string(tt.policy)
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			r := newResEnv(t)
			gone := channel("research", "ml-research", "ml", false, tt.policy)
			other := channel("research", "general-ml", "base", false, formulas.OnRemoveSuspend)
			had := apply(t, r.c, r.u, resources(gone, other), formulas.Resources{})
			want := resources(other)

			start := len(r.f.Log())
			plan, err := r.c.PlanResources(t.Context(), r.u, want, had)
			if err != nil {
				t.Fatal(err)
			}
			if w := writes(r.f.Log()[start:]); len(w) != 0 {
				t.Fatalf("planning wrote %v", w)
			}
			if len(plan) != 1 || plan[0].Action != tt.action || plan[0].Name != "research/ml-research" || plan[0].Kind != "channel" ||
				plan[0].Source != "ml@1.0.0 (group ml)" || plan[0].Connector != "mattermost" {
				t.Fatalf("plan %+v", plan)
			}

			got := apply(t, r.c, r.u, want, had)
			if !slices.Equal(keys(got), []string{"research/general-ml"}) {
				t.Fatalf("applied %v: a removed channel is not returned, whatever its policy", keys(got))
			}
			if r.inChannel(r.research.Id, "ml-research") != tt.stays {
				t.Fatalf("member of the removed channel: %v, want %v", !tt.stays, tt.stays)
			}
			ch := r.f.ChannelByName(r.research.Id, "ml-research")
			if ch == nil || ch.DeleteAt != 0 {
				t.Fatalf("the channel itself was touched: %+v", ch)
			}
			if !slices.Contains(r.f.TeamMembers(r.research.Id), r.u.RemoteID) || !r.inChannel(r.research.Id, "general-ml") {
				t.Fatal("the removal took the team or another channel along")
			}
			// Done once: the same pass again writes nothing.
			start = len(r.f.Log())
			apply(t, r.c, r.u, want, had)
			if w := writes(r.f.Log()[start:]); len(w) != 0 {
				t.Fatalf("a repeated removal wrote %v", w)
			}
		})
	}
}

func TestResourcesAskedForTwice(t *testing.T) {
	r := newResEnv(t)
	a := channel("research", "ml-research", "ml", false, formulas.OnRemoveDelete)
	b := channel("research", "ml-research", "gpu", false, formulas.OnRemoveDelete)
	b.Source.Group, b.Source.GroupID = "gpu-users", "g-gpu"
	both := formulas.Union(resources(a), resources(b))
	if len(both.Mattermost.Channels) != 1 || len(both.Mattermost.Channels[0].AlsoFrom) != 1 {
		t.Fatalf("union %+v", both)
	}
	had := apply(t, r.c, r.u, both, formulas.Resources{})

	// The binding of ml goes; gpu still asks for the channel.
	onlyB := formulas.Union(resources(b))
	plan, err := r.c.PlanResources(t.Context(), r.u, onlyB, had)
	if err != nil || len(plan) != 0 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	start := len(r.f.Log())
	had = apply(t, r.c, r.u, onlyB, had)
	if w := writes(r.f.Log()[start:]); len(w) != 0 || !r.inChannel(r.research.Id, "ml-research") {
		t.Fatalf("the channel one formula still asks for was touched: writes %v", w)
	}
	if got := had.Mattermost.Channels; len(got) != 1 || got[0].Source.Formula != "gpu" {
		t.Fatalf("applied %+v", got)
	}
	// Then gpu's goes too: its policy applies.
	apply(t, r.c, r.u, formulas.Resources{}, had)
	if r.inChannel(r.research.Id, "ml-research") {
		t.Fatal("still a member once no formula asks for the channel")
	}
}

func TestResourcesPlanBeforeApply(t *testing.T) {
	r := newResEnv(t)
	r.f.JoinTeam(r.research.Id, r.u.RemoteID)
	lab := r.f.AddChannel(r.research.Id, "lab", "Lab", model.ChannelTypePrivate, "")
	old := r.f.AddChannel(r.research.Id, "old-project", "Old project", model.ChannelTypeOpen, "")
	kept := r.f.AddChannel(r.research.Id, "alumni", "Alumni", model.ChannelTypeOpen, "")
	here := r.f.AddChannel(r.research.Id, "here", "Here", model.ChannelTypeOpen, "")
	for _, ch := range []*model.Channel{old, kept, here} {
		r.f.JoinChannel(ch.Id, r.u.RemoteID)
	}
	want := resources(
		channel("platform", "ml-news", "ml", false, ""), // a new channel, in a team the user is not in
		channel("research", "lab", "ml", true, ""),      // an existing channel
		channel("research", "here", "ml", false, ""),    // already right
	)
	had := resources(
		channel("research", "old-project", "ml", false, formulas.OnRemoveDelete),
		channel("research", "alumni", "ml", false, formulas.OnRemoveKeep),
		channel("research", "here", "ml", false, ""),
	)

	start := len(r.f.Log())
	plan, err := r.c.PlanResources(t.Context(), r.u, want, had)
	if err != nil {
		t.Fatal(err)
	}
	if w := writes(r.f.Log()[start:]); len(w) != 0 {
		t.Fatalf("planning wrote %v", w)
	}
	type change struct{ action, name, detail string }
	var got []change
	for _, c := range plan {
		got = append(got, change{c.Action, c.Name, c.Detail})
	}
	wantPlan := []change{
		{fanout.ActionCreate, "platform/ml-news", `join team platform, create public channel "Ml-news", join it`},
		{fanout.ActionCreate, "research/lab", "join existing channel"},
		{fanout.ActionRemove, "research/old-project", "remove membership (the channel itself stays)"},
		{fanout.ActionKeep, "research/alumni", "membership stays (onRemove: keep)"},
	}
	if !slices.Equal(got, wantPlan) {
		t.Fatalf("plan\n%+v\nwant\n%+v", got, wantPlan)
	}

	// Apply does exactly that.
	start = len(r.f.Log())
	applied := apply(t, r.c, r.u, want, had)
	news := r.f.ChannelByName(r.team.Id, "ml-news")
	if news == nil {
		t.Fatal("ml-news was not created")
	}
	wantWrites := []string{
		"POST /api/v4/channels",
		"POST /api/v4/teams/" + r.team.Id + "/members",
		"POST /api/v4/channels/" + news.Id + "/members",
		"POST /api/v4/channels/" + lab.Id + "/members",
		"DELETE /api/v4/channels/" + old.Id + "/members/" + r.u.RemoteID,
	}
	if w := writes(r.f.Log()[start:]); !slices.Equal(w, wantWrites) {
		t.Fatalf("writes\n%v\nwant\n%v", w, wantWrites)
	}
	if !r.inChannel(r.research.Id, "alumni") || r.inChannel(r.research.Id, "old-project") {
		t.Fatal("keep and delete were not applied")
	}
	// Now the plan is empty.
	plan, err = r.c.PlanResources(t.Context(), r.u, want, applied)
	if err != nil || len(plan) != 0 {
		t.Fatalf("plan after apply: %+v, %v", plan, err)
	}
}

func TestResourcesTerminal(t *testing.T) {
	r := newResEnv(t)
	archived := r.f.AddChannel(r.research.Id, "archived", "Archived", model.ChannelTypeOpen, "")
	r.f.ArchiveChannel(archived.Id)
	want := resources(
		channel("no-such-team", "ml", "ml", false, ""),
		channel("research", "archived", "ml", false, ""),
		channel("research", "fine", "ml", false, ""),
	)

	plan, err := r.c.PlanResources(t.Context(), r.u, want, formulas.Resources{})
	if !fanout.IsTerminal(err) || len(plan) != 1 || plan[0].Name != "research/fine" {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	got, err := r.c.EnsureResources(t.Context(), r.u, want, formulas.Resources{})
	wantTerminal(t, err, `team "no-such-team" does not exist`, "no-such-team/ml", "research/archived", "is archived", "ml@1.0.0 (group ml)")
	if !r.inChannel(r.research.Id, "fine") {
		t.Fatal("the refused channels held back the good one")
	}
	if !slices.Equal(keys(got), []string{"research/fine"}) {
		t.Fatalf("applied %v", keys(got))
	}
	if ch := r.f.Channel(archived.Id); ch.DeleteAt == 0 || slices.Contains(r.f.ChannelMembers(archived.Id), r.u.RemoteID) {
		t.Fatal("the archived channel was written to")
	}

	t.Run("GroupChannel", func(t *testing.T) {
		res, err := r.c.EnsureGroup(t.Context(), fanout.Group{ID: "g-ops", DisplayName: "Ops"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.c.EnsureResources(t.Context(), r.u, resources(channel("platform", "ops", "ml", false, "")), formulas.Resources{})
		wantTerminal(t, err, "platform/ops", "scim group g-ops")
		if slices.Contains(r.f.ChannelMembers(res.RemoteID), r.u.RemoteID) {
			t.Fatal("the formula put the user into a group's channel")
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		r.f.Fail(1, http.StatusForbidden, "")
		_, err := r.c.EnsureResources(t.Context(), r.u, resources(channel("research", "other", "ml", false, "")), formulas.Resources{})
		wantTerminal(t, err, "403")
	})
	t.Run("RetryAfter", func(t *testing.T) {
		r.f.Fail(1, http.StatusTooManyRequests, "7")
		had := resources(channel("research", "fine", "ml", false, ""))
		got, err := r.c.EnsureResources(t.Context(), r.u, had, had)
		var ra *fanout.RetryAfterError
		if !errors.As(err, &ra) || ra.After.Seconds() < 7 || fanout.IsTerminal(err) {
			t.Fatalf("got %v, want a retry after 7s", err)
		}
		if !slices.Equal(keys(got), []string{"research/fine"}) {
			t.Fatalf("a failed pass forgot what was applied: %v", keys(got))
		}
	})
}

// faultyTransport answers the nth request (from 1) with a 502 after
// Mattermost handled it, as when a proxy loses the answer.
type faultyTransport struct {
	mu  sync.Mutex
	n   int
	at  int
	hit bool
}

func (ft *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.n++
	if err != nil || ft.n != ft.at {
		return resp, err
	}
	ft.hit = true
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return &http.Response{StatusCode: http.StatusBadGateway, Status: "502 Bad Gateway", Header: http.Header{},
		Body: io.NopCloser(strings.NewReader("<html>bad gateway</html>")), Request: req}, nil
}

func TestResourcesFaultConverges(t *testing.T) {
	for at := 1; ; at++ {
		f := mattermostfake.New(t)
		f.AddTeam(teamName)
		research := f.AddTeam("research")
		ft := &faultyTransport{}
		c, err := mattermost.Open(mattermost.Config{URL: f.URL, Team: teamName, Transport: ft}, f.Token, nil)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := ensure(t, c, newUser("alice"))
		f.JoinTeam(research.Id, u.RemoteID)
		old := f.AddChannel(research.Id, "old", "Old", model.ChannelTypeOpen, "")
		f.JoinChannel(old.Id, u.RemoteID)
		want := resources(channel("research", "ml", "ml", true, ""), channel(teamName, "news", "ml", false, ""))
		had := resources(channel("research", "old", "ml", false, ""))

		ft.mu.Lock()
		ft.at = ft.n + at
		ft.mu.Unlock()
		got, err := c.EnsureResources(t.Context(), u, want, had)
		ft.mu.Lock()
		hit := ft.hit
		ft.mu.Unlock()
		if !hit {
			if err != nil {
				t.Fatal(err)
			}
			if at < 8 {
				t.Fatalf("the pass made only %d requests", at-1)
			}
			return // every request of the pass has failed once
		}
		if err == nil || fanout.IsTerminal(err) {
			t.Fatalf("request %d failed: got %v, want an error that is retried", at, err)
		}
		if !slices.Contains(keys(got), "research/old") {
			t.Fatalf("request %d failed: the pending removal was forgotten: %v", at, keys(got))
		}
		again := apply(t, c, u, want, got)
		if !slices.Equal(keys(again), []string{"platform/news", "research/ml"}) {
			t.Fatalf("request %d failed: applied after the retry %v", at, keys(again))
		}
		for team, name := range map[string]string{research.Id: "ml", f.Team(teamName).Id: "news"} {
			n := 0
			for _, ch := range f.Channels(team) {
				if ch.Name == name {
					n++
					if !slices.Contains(f.ChannelMembers(ch.Id), u.RemoteID) {
						t.Fatalf("request %d failed: not in %s", at, name)
					}
				}
			}
			if n != 1 {
				t.Fatalf("request %d failed: %d channels named %s", at, n, name)
			}
		}
		if slices.Contains(f.ChannelMembers(old.Id), u.RemoteID) {
			t.Fatalf("request %d failed: still in the removed channel", at)
		}
	}
}

func TestResourcesInactiveAndDeletedUsers(t *testing.T) {
	r := newResEnv(t)
	stay := channel("research", "lab", "ml", false, "")
	had := apply(t, r.c, r.u, resources(stay), formulas.Resources{})

	t.Run("DeactivatedGetsNothingNew", func(t *testing.T) {
		inactive := r.u
		inactive.Active = false
		ensure(t, r.c, inactive)
		want := resources(stay, channel("research", "new", "ml", false, ""))
		plan, err := r.c.PlanResources(t.Context(), inactive, want, had)
		if err != nil || len(plan) != 0 {
			t.Fatalf("plan %+v, %v", plan, err)
		}
		start := len(r.f.Log())
		got := apply(t, r.c, inactive, want, had)
		if w := writes(r.f.Log()[start:]); len(w) != 0 {
			t.Fatalf("wrote %v for a deactivated user", w)
		}
		if !slices.Equal(keys(got), []string{"research/lab", "research/new"}) || !r.inChannel(r.research.Id, "lab") {
			t.Fatalf("applied %v", keys(got))
		}
		// Active again: the new channel follows.
		ensure(t, r.c, r.u)
		apply(t, r.c, r.u, want, got)
		if !r.inChannel(r.research.Id, "new") {
			t.Fatal("the reactivated user did not get the channel")
		}
	})
	t.Run("DeletedLosesChannelsByPolicy", func(t *testing.T) {
		deleted := r.u
		deleted.Deleted = true
		ensure(t, r.c, deleted)
		got := apply(t, r.c, deleted, formulas.Resources{}, had)
		if len(got.Mattermost.Channels) != 0 || r.inChannel(r.research.Id, "lab") {
			t.Fatalf("a deleted user keeps %v", keys(got))
		}
	})
}

func TestResourcesTownSquareStays(t *testing.T) {
	r := newResEnv(t)
	ts := channel("research", model.DefaultChannelName, "ml", false, "")
	had := apply(t, r.c, r.u, resources(ts), formulas.Resources{})
	if !r.inChannel(r.research.Id, model.DefaultChannelName) {
		t.Fatal("not in town-square")
	}
	plan, err := r.c.PlanResources(t.Context(), r.u, formulas.Resources{}, had)
	if err != nil || len(plan) != 1 || plan[0].Action != fanout.ActionKeep {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	got := apply(t, r.c, r.u, formulas.Resources{}, had)
	if len(got.Mattermost.Channels) != 0 || !r.inChannel(r.research.Id, model.DefaultChannelName) {
		t.Fatalf("applied %v", keys(got))
	}
}

func TestGroupChannelSkipsDeactivatedNewcomer(t *testing.T) {
	e := newEnv(t)
	c := e.connector(t, nil)
	a, _ := ensure(t, c, newUser("uma"))
	b := newUser("vera")
	b.Active = false
	b, _ = ensure(t, c, b)
	g := fanout.Group{ID: "g-x", DisplayName: "X", Members: []fanout.Member{member(a), member(b)}}
	res, err := c.EnsureGroup(t.Context(), g)
	if err != nil {
		t.Fatalf("a deactivated newcomer failed the group: %v", err)
	}
	if got := e.f.ChannelMembers(res.RemoteID); !slices.Equal(got, []string{a.RemoteID}) {
		t.Fatalf("members %v", got)
	}
	b.Active = true
	ensure(t, c, b)
	g.RemoteID = res.RemoteID
	if _, err := c.EnsureGroup(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(e.f.ChannelMembers(res.RemoteID), b.RemoteID) {
		t.Fatal("not added once active")
	}
}

func TestResourcesWithoutAccount(t *testing.T) {
	r := newResEnv(t)
	nobody := newUser("nobody") // never provisioned: no RemoteID
	want := resources(channel("research", "lab", "ml", false, ""))
	plan, err := r.c.PlanResources(t.Context(), nobody, want, formulas.Resources{})
	if err != nil || len(plan) != 1 || plan[0].Detail != `join team research, create public channel "Lab", join it` {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	start := len(r.f.Log())
	got, err := r.c.EnsureResources(t.Context(), nobody, want, formulas.Resources{})
	if err == nil || fanout.IsTerminal(err) || len(got.Mattermost.Channels) != 0 {
		t.Fatalf("got %v, %v; want a retried error and nothing applied", keys(got), err)
	}
	if w := writes(r.f.Log()[start:]); len(w) != 0 {
		t.Fatalf("wrote %v", w)
	}
}
