package bolt

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// crashEnv, when set to a file path, turns TestCrash into the writer
// child: it opens that file and writes until it is killed.
const crashEnv = "SCIMBRIDGE_BOLT_CRASH_WRITER"

// crashGroup is the group every child adds its users to.
const crashGroup = "crash-test"

// TestCrash kills a writing process with SIGKILL at random moments and
// checks, after each kill, that every write the child saw acknowledged is
// in the file and that the file and its indexes are consistent.
func TestCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashWriter(path, os.Getenv(crashEnv+"_ROUND"))
		return
	}
	if testing.Short() {
		t.Skip("crash test re-executes the test binary")
	}
	const rounds = 10
	seed := uint64(20240611)
	if v, err := strconv.ParseUint(os.Getenv("CRASH_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (set CRASH_SEED to replay the delays)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	path := filepath.Join(t.TempDir(), "crash.db")

	users := make(map[string]string) // acknowledged user id -> userName
	members := make(map[string]bool) // acknowledged member ids
	versions := make(map[string]uint64)
	deadline := time.Now().Add(10 * time.Second)
	for round := range rounds {
		if time.Now().After(deadline) {
			t.Logf("stopping after %d rounds: time budget spent", round)
			break
		}
		// Most rounds kill mid-write; every fourth kills right after
		// start, while the child may still be opening the file.
		var delay time.Duration
		waitReady := round == 0 || round%4 != 3
		if waitReady {
			delay = time.Duration(20+rng.IntN(700)) * time.Millisecond
		}
		lines := runCrashChild(t, path, round, waitReady, delay)
		n := 0
		for _, l := range lines {
			f := strings.Fields(l)
			switch {
			case len(f) == 4 && f[0] == "ack" && f[1] == "user":
				users[f[2]] = f[3]
				n++
			case len(f) == 3 && f[0] == "ack" && f[1] == "member":
				members[f[2]] = true
			case len(f) == 4 && f[0] == "ack" && f[1] == "version":
				v, _ := strconv.ParseUint(f[3], 10, 64)
				versions[f[2]] = max(versions[f[2]], v)
			}
		}
		t.Logf("round %d: killed after %v, %d users acknowledged", round, delay, n)
		verifyCrashFile(t, path, users, members, versions)
	}
	if len(users) == 0 || len(members) == 0 {
		t.Fatalf("the children acknowledged %d users and %d members: the test tested nothing", len(users), len(members))
	}
}

// runCrashChild starts the writer child, kills it after delay (counted
// from its "ready" line when waitReady), and returns its complete output
// lines.
func runCrashChild(t *testing.T, path string, round int, waitReady bool, delay time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path, fmt.Sprintf("%s_ROUND=%d", crashEnv, round))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	ready := make(chan struct{})
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(out)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return // EOF; a partial last line is not an acknowledgement
			}
			l = strings.TrimSuffix(l, "\n")
			if l == "ready" {
				close(ready)
			}
			lines = append(lines, l)
		}
	}()
	if waitReady {
		select {
		case <-ready:
		case <-done:
			t.Fatalf("round %d: child exited before it was ready", round)
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: child not ready after 10s", round)
		}
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatalf("kill child: %v", err)
	}
	<-done // the pipe is drained: every line the child wrote is read
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Fatalf("round %d: child ended with %v, want killed by a signal", round, err)
	}
	return lines
}

// verifyCrashFile opens the file the child was writing and checks it.
func verifyCrashFile(t *testing.T, path string, users map[string]string, members map[string]bool, versions map[string]uint64) {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check after kill: %v", err)
	}
	for id, name := range users {
		u, err := s.GetUser(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged user %s (%s) lost: %v", id, name, err)
		}
		if u.UserName != name || u.Meta.Version < versions[id] {
			t.Fatalf("user %s = %q version %d, acknowledged %q version >= %d", id, u.UserName, u.Meta.Version, name, versions[id])
		}
	}
	if len(members) == 0 {
		return
	}
	g, err := s.FindGroupByName(ctx, crashGroup)
	if err != nil {
		t.Fatalf("group with acknowledged members lost: %v", err)
	}
	ms, err := s.GroupMembers(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	in := make(map[string]bool, len(ms))
	for _, m := range ms {
		in[m.UserID] = true
	}
	for id := range members {
		if !in[id] {
			t.Fatalf("acknowledged member %s missing from the group", id)
		}
		if gs, err := s.UserGroups(ctx, id); err != nil || !slices.Contains(gs, g.ID) {
			t.Fatalf("UserGroups(%s) = %q, %v; want the group", id, gs, err)
		}
	}
	n, err := s.CountUsers(ctx)
	if err != nil || n < len(users) {
		t.Fatalf("CountUsers = %d, %v; %d acknowledged", n, err, len(users))
	}
}

// crashWriter is the child: it writes from several goroutines, printing
// each write after it returned, until it is killed. It never returns.
func crashWriter(path, round string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash writer:", err)
		os.Exit(2)
	}
	// A child whose parent died must not write forever.
	time.AfterFunc(30*time.Second, func() { os.Exit(3) })
	s, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	g, err := s.FindGroupByName(ctx, crashGroup)
	if err != nil {
		g = &store.Group{DisplayName: crashGroup}
		if err := s.CreateGroup(ctx, "crash", g, nil); err != nil {
			fail(err)
		}
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		// One write(2) per line, so a kill never splits a line that the
		// pipe accepted.
		if _, err := io.WriteString(os.Stdout, fmt.Sprintf(format, args...)+"\n"); err != nil {
			os.Exit(4)
		}
	}
	ack("ready")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				u := &store.User{
					UserName:   fmt.Sprintf("r%s-w%d-%d", round, w, i),
					Emails:     []string{fmt.Sprintf("r%s-w%d-%d@example.com", round, w, i)},
					Active:     true,
					Attributes: []byte(`{"source":"crash"}`),
				}
				if err := s.CreateUser(ctx, "crash", u); err != nil {
					fail(err)
				}
				ack("ack user %s %s", u.ID, u.UserName)
				if _, err := s.UpdateGroup(ctx, "crash", g.ID, 0, func(tx store.GroupTx) error {
					return tx.AddMember(u.ID)
				}); err != nil {
					fail(err)
				}
				ack("ack member %s", u.ID)
				// Renaming the display rewrites the member entry too.
				got, err := s.UpdateUser(ctx, "crash", u.ID, 0, func(tx store.UserTx) error {
					tx.User().DisplayName = "User " + u.UserName
					return nil
				})
				if err != nil {
					fail(err)
				}
				ack("ack version %s %d", u.ID, got.Meta.Version)
			}
		})
	}
	wg.Wait()
}
