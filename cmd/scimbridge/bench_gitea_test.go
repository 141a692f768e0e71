package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/conformance/harness"
	"github.com/scimbridge/scimbridge/fanout/gitea"
)

// BenchmarkGiteaProvisioning measures, side by side against one real
// Gitea, (a) a plain loop creating accounts through Gitea's admin API and
// (b) the bridge: SCIM POSTs until every account is present in Gitea, at
// the same concurrency, and reports both rates and their ratio. On Linux
// it also prints the CPU time Gitea and this process spent per user in
// each part, which shows where a low ratio comes from when the machine's
// load makes the rates noisy.
//
//	go test -run XXX -bench GiteaProvisioning -benchtime 1x ./cmd/scimbridge/
//
// SCIMBRIDGE_BENCH_USERS (default 1000) and SCIMBRIDGE_BENCH_CONCURRENCY
// (default 8) change the size.
func BenchmarkGiteaProvisioning(b *testing.B) {
	n := envInt("SCIMBRIDGE_BENCH_USERS", 1000)
	conc := envInt("SCIMBRIDGE_BENCH_CONCURRENCY", 8)
	idp := harness.StartOIDC(b, harness.OIDCOptions{})
	g := harness.StartGitea(b, harness.GiteaOptions{OIDC: idp})
	ctx := context.Background()
	if _, err := g.AdminAPI(ctx, "POST", "/orgs", map[string]any{"username": "bench"}, nil); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		run := fmt.Sprintf("r%d%d", i, time.Now().UnixNano()%100000)

		// (a) The plain loop: the fastest any client can create accounts.
		var next atomic.Int64
		cpu0 := cpuNow(g)
		start := time.Now()
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k := next.Add(1)
					if k > int64(n) {
						return
					}
					name := fmt.Sprintf("plain-%s-%d", run, k)
					_, err := g.AdminAPI(ctx, "POST", "/admin/users", map[string]any{
						"username": name, "email": name + "@example.com", "source_id": g.AuthSourceID,
						"login_name": "sub-" + name, "must_change_password": false,
					}, nil)
					if err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		plain := float64(n) / time.Since(start).Seconds()
		cpu1 := cpuNow(g)

		// (b) The bridge: SCIM in, Gitea out.
		env := map[string]string{
			"SCIMBRIDGE_SCIM_TOKEN":  "bench-scim-token-0123456789",
			"SCIMBRIDGE_ADMIN_TOKEN": "bench-admin-token-0123456789",
			"SCIMBRIDGE_GITEA_TOKEN": g.AdminToken,
		}
		cfg := defaultConfig()
		cfg.Data, cfg.Addr = b.TempDir(), "127.0.0.1:0"
		cfg.Fanout.Workers = conc
		cfg.Fanout.ResyncInterval = -1
		calls := &countingTransport{counts: map[string]int{}}
		cfg.Connectors.Gitea = &gitea.Config{URL: g.URL, AuthSourceID: g.AuthSourceID, Organization: "bench", Transport: calls}
		m := &Main{Config: cfg, Getenv: envOf(env)}
		mctx, cancel := context.WithCancel(ctx)
		if err := m.Open(mctx); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = m.Run(mctx); close(done) }()
		base := "http://" + m.Addr() + "/scim/v2"
		before, err := g.UserCount(ctx)
		if err != nil {
			b.Fatal(err)
		}
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
		next.Store(0)
		start = time.Now()
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k := next.Add(1)
					if k > int64(n) {
						return
					}
					name := fmt.Sprintf("bridge-%s-%d", run, k)
					body, _ := json.Marshal(map[string]any{
						"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name,
						"externalId": "sub-" + name, "emails": []any{map[string]any{"value": name + "@example.com", "primary": true}},
					})
					req, _ := http.NewRequest("POST", base+"/Users", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+env["SCIMBRIDGE_SCIM_TOKEN"])
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 201 {
						b.Errorf("POST: %d", resp.StatusCode)
						return
					}
				}
			}()
		}
		wg.Wait()
		// Done when Gitea holds every account. Asking it is a request it
		// serves (a count over its user table) while it creates the
		// accounts being timed, which the plain loop's measurement does
		// not pay; so ask when Gitea has answered 201 to as many creates
		// as there are users, and otherwise once a second.
		deadline := time.Now().Add(5 * time.Minute)
		for asked := time.Now(); ; {
			if calls.createdCount() >= n || time.Since(asked) >= time.Second {
				asked = time.Now()
				c, err := g.UserCount(ctx)
				if err == nil && c >= before+n {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("only %d of %d users reached Gitea", c-before, n)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		bridge := float64(n) / time.Since(start).Seconds()
		cpu2 := cpuNow(g)
		cancel()
		<-done
		_ = m.Close()
		b.ReportMetric(plain, "plain_users/s")
		b.ReportMetric(bridge, "bridge_users/s")
		b.ReportMetric(bridge/plain, "ratio")
		fmt.Fprintf(os.Stderr, "gitea provisioning, %d users at concurrency %d: plain loop %.1f/s, bridge %.1f/s, ratio %.2f; bridge calls to gitea: %v\n", n, conc, plain, bridge, bridge/plain, calls.snapshot())
		if cpu0.ok && cpu1.ok && cpu2.ok {
			per := func(d time.Duration) string { return fmt.Sprintf("%.1fms", d.Seconds()*1000/float64(n)) }
			fmt.Fprintf(os.Stderr, "cpu per user: gitea %s in the plain loop, %s in the bridge run; this process (client, and bridge) %s, %s\n",
				per(cpu1.gitea-cpu0.gitea), per(cpu2.gitea-cpu1.gitea), per(cpu1.self-cpu0.self), per(cpu2.self-cpu1.self))
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// countingTransport counts the bridge's requests to Gitea by method and
// first path segments, to show what a provisioned user costs.
type countingTransport struct {
	mu      sync.Mutex
	counts  map[string]int
	created atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	key := r.Method + " " + r.URL.Path
	if parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/", 3); len(parts) >= 2 {
		key = r.Method + " " + parts[0] + "/" + parts[1]
	}
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusCreated && r.Method == http.MethodPost && r.URL.Path == "/api/v1/admin/users" {
		c.created.Add(1)
	}
	return resp, err
}

// createdCount is how many accounts Gitea answered 201 Created for.
func (c *countingTransport) createdCount() int { return int(c.created.Load()) }

func (c *countingTransport) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// cpuTimes are CPU times consumed so far by Gitea's process and by this
// one; ok is false where they cannot be read (not Linux).
type cpuTimes struct {
	gitea, self time.Duration
	ok          bool
}

// cpuNow reads the CPU time (user and system) of the Gitea process whose
// command line names g.Dir, and of this process. CPU time per user
// depends much less than the rates on what else the machine runs.
func cpuNow(g *harness.Gitea) cpuTimes {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuTimes{}
	}
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(cmdline, []byte(g.Dir)) || !bytes.Contains(cmdline, []byte("web")) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses:
		// utime and stime are the 14th and 15th fields of the line.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		const hz = 100 // USER_HZ on Linux
		return cpuTimes{gitea: time.Duration(ut+st) * time.Second / hz, self: self, ok: true}
	}
	return cpuTimes{}
}
