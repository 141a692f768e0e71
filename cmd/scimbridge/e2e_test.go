package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/conformance/harness"
	"github.com/scimbridge/scimbridge/fanout/gitea"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// The end-to-end tests run the real program (Main, or the test binary
// re-executed as "scimbridge serve") against a real Gitea v1.26.0 that
// signs people in through a real OpenID provider, with a real bbolt file
// and real HTTP everywhere.

// TestE2EGitea follows people through their life in one Gitea: linked
// before their first login, adopted after it, given and taken team access
// through a group, suspended and restored, and repaired by a resync after
// someone edited a team by hand. The subtests share the servers and run
// in order.
func TestE2EGitea(t *testing.T) {
	w := startWorld(t)
	b := startBridge(t, w)
	ctx := t.Context()

	// Mixed case on purpose: Gitea matches login_name exactly.
	const aliceSub, bobSub = "alice-Sub-01", "bob-Sub-02"
	w.person(t, "alice", aliceSub)
	w.person(t, "bob", bobSub)
	var aliceID, bobID, groupID string

	t.Run("LinkedBeforeFirstLogin", func(t *testing.T) {
		before := w.userCount(t)
		aliceID = b.createUser(t, "alice", aliceSub)
		var aliceAcct account
		eventually(t, w.g, "alice provisioned", func() error {
			s, err := b.giteaStatus(ctx, aliceID)
			if err != nil {
				return err
			}
			if s.State != "ok" {
				return fmt.Errorf("gitea status %s: %s", s.State, s.LastError)
			}
			aliceAcct, err = w.account(ctx, "alice")
			return err
		})
		if aliceAcct.SourceID != w.g.AuthSourceID || aliceAcct.LoginName != aliceSub {
			t.Fatalf("alice's account is bound to source %d with login name %q; want %d and %q exactly",
				aliceAcct.SourceID, aliceAcct.LoginName, w.g.AuthSourceID, aliceSub)
		}
		if aliceAcct.Email != "alice@example.com" || aliceAcct.FullName != "Alice" || aliceAcct.ProhibitLogin {
			t.Errorf("alice's account %+v", aliceAcct)
		}
		found, err := w.bySubject(ctx, aliceSub)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].ID != aliceAcct.ID {
			t.Errorf("gitea's search by source and login name found %+v, want alice (%d) only", found, aliceAcct.ID)
		}
		if s, _ := b.giteaStatus(ctx, aliceID); s.RemoteID != strconv.FormatInt(aliceAcct.ID, 10) {
			t.Errorf("alice's link %q, want gitea id %d", s.RemoteID, aliceAcct.ID)
		}
		if after := w.userCount(t); after != before+1 {
			t.Errorf("user count went from %d to %d, want one more", before, after)
		}

		before = w.userCount(t)
		got, err := w.login(ctx, "alice")
		if err != nil {
			t.Fatalf("first oidc login of alice: %v", err)
		}
		if got != "alice" {
			t.Errorf("first oidc login of alice landed in %q, want the pre-created alice", got)
		}
		if after := w.userCount(t); after != before {
			t.Errorf("the login changed the user count from %d to %d", before, after)
		}
	})

	t.Run("AdoptedAfterEarlierLogin", func(t *testing.T) {
		// bob signs in before the identity provider pushed him: Gitea
		// registers him itself, bound to the auth source and his subject.
		before := w.userCount(t)
		got, err := w.login(ctx, "bob")
		if err != nil || got != "bob" {
			t.Fatalf("first oidc login of bob: %q, %v", got, err)
		}
		registered, err := w.account(ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if registered.SourceID != w.g.AuthSourceID || registered.LoginName != bobSub {
			t.Fatalf("gitea registered bob as %+v", registered)
		}
		if after := w.userCount(t); after != before+1 {
			t.Fatalf("gitea's registration took the user count from %d to %d", before, after)
		}

		before = w.userCount(t)
		bobID = b.createUser(t, "bob", bobSub)
		eventually(t, w.g, "bob adopted", func() error {
			s, err := b.giteaStatus(ctx, bobID)
			if err != nil {
				return err
			}
			if s.State == "parked" {
				t.Fatalf("bob parked instead of adopted: %s", s.LastError)
			}
			if s.State != "ok" {
				return fmt.Errorf("gitea status %s: %s", s.State, s.LastError)
			}
			if s.RemoteID != strconv.FormatInt(registered.ID, 10) || s.LastError != "" {
				t.Fatalf("bob's status %+v, want ok and linked to gitea id %d", s, registered.ID)
			}
			return nil
		})
		if after := w.userCount(t); after != before {
			t.Errorf("adoption changed the user count from %d to %d", before, after)
		}
		bobAcct, err := w.account(ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if bobAcct.ID != registered.ID || bobAcct.LoginName != bobSub || bobAcct.SourceID != w.g.AuthSourceID {
			t.Errorf("bob's account after adoption %+v, want %+v's link kept", bobAcct, registered)
		}
		if out := statusCommand(t, b.base, "bob@example.com"); !regexp.MustCompile(`(?m)^gitea\s+ok\s+0\s+` + strconv.FormatInt(registered.ID, 10) + `\b`).MatchString(out) {
			t.Errorf("scimbridge status bob@example.com:\n%s", out)
		}
		if got, err := w.login(ctx, "bob"); err != nil || got != "bob" {
			t.Errorf("oidc login of bob after adoption: %q, %v", got, err)
		}
	})

	t.Run("GroupMembership", func(t *testing.T) {
		if aliceID == "" || bobID == "" {
			t.Skip("needs alice and bob")
		}
		out := b.scim(t, http.MethodPost, "/Groups", map[string]any{
			"schemas":     []string{groupSchema},
			"displayName": "Platform Team",
			"members":     []map[string]any{{"value": aliceID}},
		}, http.StatusCreated)
		groupID, _ = out["id"].(string)
		members := func(want ...string) func() error {
			return func() error {
				got, err := w.teamMembers(ctx, "Platform-Team")
				if err != nil {
					return err
				}
				if !slices.Equal(got, want) {
					return fmt.Errorf("team members %v, want %v", got, want)
				}
				return nil
			}
		}
		eventually(t, w.g, "team with alice", members("alice"))

		b.scim(t, http.MethodPatch, "/Groups/"+groupID, patchOp(map[string]any{
			"op": "add", "path": "members", "value": []map[string]any{{"value": bobID}},
		}), http.StatusOK, http.StatusNoContent)
		eventually(t, w.g, "bob added to the team", members("alice", "bob"))

		b.scim(t, http.MethodPatch, "/Groups/"+groupID, patchOp(map[string]any{
			"op": "remove", "path": fmt.Sprintf("members[value eq %q]", aliceID),
		}), http.StatusOK, http.StatusNoContent)
		eventually(t, w.g, "alice removed from the team", members("bob"))
	})

	t.Run("DeactivateReactivate", func(t *testing.T) {
		if aliceID == "" {
			t.Skip("needs alice")
		}
		setActive := func(active bool) {
			b.scim(t, http.MethodPatch, "/Users/"+aliceID, patchOp(map[string]any{
				"op": "replace", "path": "active", "value": active,
			}), http.StatusOK, http.StatusNoContent)
		}
		prohibited := func(want bool) func() error {
			return func() error {
				a, err := w.account(ctx, "alice")
				if err != nil {
					return err
				}
				if a.ProhibitLogin != want {
					return fmt.Errorf("prohibit_login %v", a.ProhibitLogin)
				}
				if a.LoginName != aliceSub || a.SourceID != w.g.AuthSourceID {
					t.Fatalf("the edit lost alice's link: %+v", a)
				}
				return nil
			}
		}

		setActive(false)
		eventually(t, w.g, "alice suspended", prohibited(true))
		before := w.userCount(t)
		if got, err := w.login(ctx, "alice"); !errors.Is(err, harness.ErrNotSignedIn) {
			t.Errorf("oidc login of a deactivated alice: session %q, err %v; want ErrNotSignedIn", got, err)
		}
		if after := w.userCount(t); after != before {
			t.Errorf("the refused login changed the user count from %d to %d", before, after)
		}

		setActive(true)
		eventually(t, w.g, "alice reactivated", prohibited(false))
		if got, err := w.login(ctx, "alice"); err != nil || got != "alice" {
			t.Errorf("oidc login after reactivation: %q, %v", got, err)
		}
		if after := w.userCount(t); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}
	})

	t.Run("ResyncRepairsDrift", func(t *testing.T) {
		if groupID == "" {
			t.Skip("needs the group")
		}
		eventually(t, w.g, "everything converged", func() error {
			s, err := b.summary(ctx)
			if err != nil {
				return err
			}
			return allOK(s, 3) // alice, bob, the group
		})
		tm, err := w.team(ctx, "Platform-Team")
		if err != nil {
			t.Fatal(err)
		}
		// Someone removes bob from the team by hand.
		if _, err := w.g.AdminAPI(ctx, http.MethodDelete, fmt.Sprintf("/teams/%d/members/bob", tm.ID), nil, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := w.teamMembers(ctx, "Platform-Team"); err != nil || len(got) != 0 {
			t.Fatalf("after the manual removal the team has %v, %v", got, err)
		}

		before := w.userCount(t)
		b.calls.reset()
		var queued map[string]int
		if code, err := do(ctx, b.http, http.MethodPost, b.base+"/admin/v1/resync", e2eAdminToken, nil, &queued); code != http.StatusAccepted {
			t.Fatalf("POST /admin/v1/resync: %d, %v", code, err)
		}
		// Converged users are not even queued: only the group is.
		if queued["queued"] != 1 {
			t.Errorf("resync queued %d keys, want 1 (the group; alice and bob are converged)", queued["queued"])
		}
		eventually(t, w.g, "bob back in the team", func() error {
			got, err := w.teamMembers(ctx, "Platform-Team")
			if err != nil {
				return err
			}
			if !slices.Equal(got, []string{"bob"}) {
				return fmt.Errorf("team members %v", got)
			}
			return nil
		})
		eventually(t, w.g, "everything converged again", func() error {
			s, err := b.summary(ctx)
			if err != nil {
				return err
			}
			return allOK(s, 3)
		})
		if calls := b.calls.to("", "/api/v1/admin/users"); len(calls) != 0 {
			t.Errorf("the resync made user calls although every user was converged: %v", calls)
		}
		if calls := b.calls.to(http.MethodPut, "/api/v1/teams/"); len(calls) != 1 {
			t.Errorf("the resync made team writes %v, want the one that adds bob back", calls)
		}
		if after := w.userCount(t); after != before {
			t.Errorf("the resync changed the user count from %d to %d", before, after)
		}
	})
}

// statusRow matches the gitea line of "scimbridge status": OK, PENDING,
// FAILED and PARKED counts.
var statusRow = regexp.MustCompile(`(?m)^gitea\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)

// problemLine matches a key that is not ok in "scimbridge status", with
// its error.
var problemLine = regexp.MustCompile(`(?m)^gitea\s+user/\S+\s+(pending|failed)\s+attempts=\d+\s+next .*(gitea: .+)$`)

// statusCounts parses the gitea row of "scimbridge status".
func statusCounts(out string) (ok, pending, failed, parked int, err error) {
	m := statusRow.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, 0, 0, fmt.Errorf("no gitea row in:\n%s", out)
	}
	n := make([]int, 4)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return n[0], n[1], n[2], n[3], nil
}

// TestE2EGiteaOutage stops Gitea while the identity provider keeps
// writing: SCIM keeps answering, status names the stalled keys and why,
// and everything converges once Gitea is back.
func TestE2EGiteaOutage(t *testing.T) {
	w := startWorld(t)
	b := startBridge(t, w)
	ctx := t.Context()

	subject := func(i int) string { return fmt.Sprintf("Outage-Sub-%02d", i) }
	login := func(i int) string { return fmt.Sprintf("outage%02d", i) }
	ids := map[int]string{}
	for i := range 3 {
		ids[i] = b.createUser(t, login(i), subject(i))
	}
	eventually(t, w.g, "first users provisioned", func() error {
		s, err := b.summary(ctx)
		if err != nil {
			return err
		}
		return allOK(s, 3)
	})

	if err := w.g.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.g.UserCount(ctx); err == nil {
		t.Fatal("gitea answers although it was stopped")
	}
	for i := 3; i < 8; i++ {
		ids[i] = b.createUser(t, login(i), subject(i)) // 201, Gitea or not
	}
	b.scim(t, http.MethodPatch, "/Users/"+ids[0], patchOp(map[string]any{
		"op": "replace", "path": "displayName", "value": "Renamed During Outage",
	}), http.StatusOK, http.StatusNoContent)
	b.scim(t, http.MethodGet, "/Users/"+ids[5], nil, http.StatusOK)

	var out string
	eventually(t, w.g, "status shows the stalled keys and the error", func() error {
		out = statusCommand(t, b.base)
		ok, pending, failed, parked, err := statusCounts(out)
		if err != nil {
			return err
		}
		if parked != 0 {
			t.Fatalf("an outage parked keys, which then wait for an operator:\n%s", out)
		}
		if pending+failed < 6 || failed == 0 || ok+pending+failed != 8 {
			return fmt.Errorf("counts ok=%d pending=%d failed=%d, want the 6 changed keys pending or failed, at least one failed:\n%s", ok, pending, failed, out)
		}
		if !problemLine.MatchString(out) {
			return fmt.Errorf("no failed key with its error:\n%s", out)
		}
		return nil
	})
	t.Logf("scimbridge status during the outage:\n%s", out)

	if err := w.g.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, w.g, "every user in gitea after the outage", func() error {
		for i := range 8 {
			found, err := w.bySubject(ctx, subject(i))
			if err != nil {
				return err
			}
			if len(found) != 1 || found[0].Login != login(i) {
				return fmt.Errorf("subject %s: accounts %+v", subject(i), found)
			}
		}
		return nil
	})
	eventually(t, w.g, "status ok after the outage", func() error {
		out = statusCommand(t, b.base)
		ok, pending, failed, parked, err := statusCounts(out)
		if err != nil {
			return err
		}
		if ok != 8 || pending+failed+parked != 0 || problemLine.MatchString(out) {
			return fmt.Errorf("not converged:\n%s", out)
		}
		return nil
	})
	if a, err := w.account(ctx, login(0)); err != nil || a.FullName != "Renamed During Outage" {
		t.Errorf("the change made during the outage: %+v, %v", a, err)
	}
	if n := w.userCount(t); n != 9 { // the admin and eight people
		t.Errorf("gitea has %d users, want 9", n)
	}
}

// childEnv tells the test binary to act as the server (see
// TestE2EChildProcess).
const childEnv = "SCIMBRIDGE_E2E_CHILD_PROCESS"

// TestE2EChildProcess is not a test: TestE2ECrashRestart runs the test
// binary again with childEnv set, and then this is "scimbridge serve",
// configured through the environment, until it is killed.
func TestE2EChildProcess(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		return
	}
	code := run(context.Background(), []string{"serve"}, os.Stdout, os.Stderr, os.Getenv)
	t.Fatalf("serve returned with exit code %d before it was killed", code)
}

// child is the program in a process of its own, to be killed. Its
// bridge has no log and no call log: those stay in the process.
type child struct {
	*bridge
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{} // closed once the process has exited
}

// startChild runs "scimbridge serve" in a new process with env and
// returns once it serves. The test's cleanup kills it.
func startChild(t *testing.T, env []string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestE2EChildProcess$", "-test.timeout=5m")
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{cmd: cmd, output: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = c.output
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			c.output.Write(append(line, '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "serving" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
		cmd.Wait() // after every read of the pipe
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("server process %d log (last lines):\n%s", cmd.Process.Pid, lastLines(c.output.String(), 60))
		}
	})
	select {
	case a := <-addr:
		c.bridge = &bridge{base: "http://" + a, http: &http.Client{Timeout: 30 * time.Second}}
	case <-c.done:
		t.Fatalf("the server process exited before serving: %v\n%s", cmd.ProcessState, c.output.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("the server process did not serve within 20s:\n%s", c.output.String())
	}
	waitReady(t, c.base)
	return c
}

// kill sends SIGKILL, the one signal the program cannot act on, and
// waits until the process is gone.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// TestE2ECrashRestart kills the server with SIGKILL while it is creating
// 500 accounts in Gitea, starts it again on the same data folder, and
// checks that every user the identity provider was answered 201 for ends
// up in Gitea exactly once.
func TestE2ECrashRestart(t *testing.T) {
	const users, clients, killAt = 500, 16, 100
	w := startWorld(t)
	ctx := t.Context()
	baseline := w.userCount(t)

	// The child reads the YAML file and the environment, like a
	// production server does.
	confDir := t.TempDir()
	conf := filepath.Join(confDir, "scimbridge.yaml")
	yaml := fmt.Sprintf(`fanout:
  workers: 4
  maxBackoff: 2s
  resyncInterval: -1s
connectors:
  gitea:
    url: %s/
    authSourceID: %d
    organization: %s
    timeout: 10s
`, w.g.URL, w.g.AuthSourceID, e2eOrg)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCIMBRIDGE_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		childEnv+"=1",
		"SCIMBRIDGE_CONFIG="+conf,
		"SCIMBRIDGE_DATA="+data,
		"SCIMBRIDGE_ADDR=127.0.0.1:0",
		"SCIMBRIDGE_LOG_FORMAT=json",
		gitea.TokenEnv+"="+w.g.AdminToken,
		"SCIMBRIDGE_SCIM_TOKEN="+e2eSCIMToken,
		"SCIMBRIDGE_ADMIN_TOKEN="+e2eAdminToken,
	)

	subject := func(i int) string { return fmt.Sprintf("Crash-Sub-%04d", i) }
	first := startChild(t, env)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	next := make(chan int)
	for range clients {
		wg.Go(func() {
			for i := range next {
				code, err := do(ctx, client, http.MethodPost, first.base+"/scim/v2/Users", e2eSCIMToken,
					scimUser(fmt.Sprintf("crash%04d", i), subject(i)), nil)
				if code != http.StatusCreated {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("user %d: %d %v", i, code, err))
					mu.Unlock()
				}
			}
		})
	}
	for i := range users {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d POSTs failed, first: %s", len(failures), failures[0])
	}
	posted := time.Since(start)

	eventually(t, w.g, fmt.Sprintf("%d accounts in gitea", killAt), func() error {
		n, err := w.g.UserCount(ctx)
		if err != nil {
			return err
		}
		if n-baseline < killAt {
			return fmt.Errorf("%d accounts", n-baseline)
		}
		return nil
	})
	first.kill()
	killed := time.Since(start)
	atKill := w.userCount(t) - baseline
	t.Logf("posted %d users in %v; SIGKILL at %v with %d accounts in gitea", users, posted.Round(time.Millisecond), killed.Round(time.Millisecond), atKill)
	if atKill >= users {
		t.Fatalf("gitea had all %d accounts before the kill: the restart had nothing to recover", users)
	}
	stored, recorded := storedAfterKill(t, data)
	if stored != users {
		t.Fatalf("after the SIGKILL the data folder holds %d users, want the %d answered 201", stored, users)
	}
	// Accounts Gitea has but the store had not recorded yet were created
	// in the window the kill hit: the next start must adopt them, not
	// create them again.
	t.Logf("at the kill: %d accounts in gitea, %d recorded ok in the store", atKill, recorded)

	second := startChild(t, env)
	eventuallyWithin(t, w.g, 45*time.Second, "every user in gitea exactly once", func() error {
		n, err := w.g.UserCount(ctx)
		if err != nil {
			return err
		}
		if n-baseline < users {
			return fmt.Errorf("%d of %d accounts", n-baseline, users)
		}
		all, err := w.allAccounts(ctx)
		if err != nil {
			return err
		}
		seen := map[string]int{}
		var linked int
		for _, a := range all {
			if !strings.HasPrefix(a.LoginName, "Crash-Sub-") {
				continue
			}
			linked++
			seen[a.LoginName]++
			if a.SourceID != w.g.AuthSourceID {
				t.Fatalf("account %+v is not bound to the auth source", a)
			}
		}
		for i := range users {
			if c := seen[subject(i)]; c != 1 {
				t.Fatalf("subject %s has %d accounts in gitea, want exactly 1 (%d accounts linked to the prefix, %d users in gitea)", subject(i), c, linked, n)
			}
		}
		if linked != users || n != baseline+users {
			t.Fatalf("gitea has %d accounts linked to the prefix and %d users in all; want %d and %d", linked, n, users, baseline+users)
		}
		return nil
	})
	eventually(t, w.g, "status all ok after the restart", func() error {
		sum, err := second.summary(ctx)
		if err != nil {
			return err
		}
		return allOK(sum, users)
	})
	var list struct {
		TotalResults int `json:"totalResults"`
	}
	if _, err := do(ctx, client, http.MethodGet, second.base+"/scim/v2/Users?count=1", e2eSCIMToken, nil, &list); err != nil || list.TotalResults != users {
		t.Errorf("SCIM lists %d users after the restart, want %d (%v)", list.TotalResults, users, err)
	}
	t.Logf("converged %v after the start", time.Since(start).Round(time.Millisecond))
}

// storedAfterKill opens the data folder a killed server left and returns
// how many users it holds and how many of them Gitea's connector had
// recorded as ok.
func storedAfterKill(t *testing.T, data string) (users, ok int) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(data, dbFile), bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open the data folder after the kill: %v", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}()
	ctx := t.Context()
	if err := st.ScanUsers(ctx, "", func(*store.User) bool { users++; return true }); err != nil {
		t.Fatal(err)
	}
	if err := st.ScanStatuses(ctx, "gitea", func(s store.Status) bool {
		if s.State == store.StateOK {
			ok++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return users, ok
}
