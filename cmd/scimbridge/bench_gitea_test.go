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
	"slices"
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
// (default 8) change the size. With -benchtime Nx it runs both parts N
// times, one after the other, on the same Gitea, and reports the medians:
// on a machine that other work shares, one pair of figures is noisy.
//
// A deployment runs the bridge beside Gitea, not on Gitea's cores. So on
// Linux the benchmark pins Gitea to the first half of the CPUs and this
// process (the plain loop's client, then the bridge and its SCIM client)
// to the other half, for both parts alike: both rates are then what Gitea
// achieves on the same CPUs, directly and through the bridge.
// SCIMBRIDGE_BENCH_SHARED_CPUS=1 lets them share every CPU instead, which
// charges the bridge's own CPU time against Gitea's throughput.
func BenchmarkGiteaProvisioning(b *testing.B) {
	n := envInt("SCIMBRIDGE_BENCH_USERS", 1000)
	conc := envInt("SCIMBRIDGE_BENCH_CONCURRENCY", 8)
	idp := harness.StartOIDC(b, harness.OIDCOptions{})
	var plains, bridges, ratios []float64
	for i := 0; i < b.N; i++ {
		plain, bridge := benchGiteaOnce(b, idp, n, conc)
		plains, bridges, ratios = append(plains, plain), append(bridges, bridge), append(ratios, bridge/plain)
	}
	b.ReportMetric(median(plains), "plain_users/s")
	b.ReportMetric(median(bridges), "bridge_users/s")
	b.ReportMetric(median(ratios), "ratio")
	if b.N > 1 {
		fmt.Fprintf(os.Stderr, "gitea provisioning, median of %d: plain loop %.1f/s, bridge %.1f/s, ratio %.2f (ratios %s)\n",
			b.N, median(plains), median(bridges), median(ratios), formatRatios(ratios))
	}
}

// benchGiteaOnce runs the plain loop and then the bridge against a new
// Gitea, so that every run starts from the same state (a Gitea holding
// the plain loop's n accounts when the bridge starts), and returns both
// rates.
func benchGiteaOnce(b *testing.B, idp *harness.OIDC, n, conc int) (plain, bridge float64) {
	ctx := context.Background()
	g := harness.StartGitea(b, harness.GiteaOptions{OIDC: idp})
	defer g.Stop()
	if _, err := g.AdminAPI(ctx, "POST", "/orgs", map[string]any{"username": "bench"}, nil); err != nil {
		b.Fatal(err)
	}
	layout := "gitea and the bridge share the CPUs"
	if os.Getenv("SCIMBRIDGE_BENCH_SHARED_CPUS") == "" {
		restore, split, err := splitCPUs(g)
		if err != nil {
			layout += fmt.Sprintf(" (not split: %v)", err)
		} else {
			defer restore()
			layout = split
		}
	}
	run := fmt.Sprintf("r%d", time.Now().UnixNano()%100000)

	// (a) The plain loop: the fastest any client can create accounts.
	cpu0 := cpuNow(g)
	start := time.Now()
	inParallel(b, n, conc, func(k int) error {
		name := fmt.Sprintf("plain-%s-%d", run, k)
		_, err := g.AdminAPI(ctx, "POST", "/admin/users", map[string]any{
			"username": name, "email": name + "@example.com", "source_id": g.AuthSourceID,
			"login_name": "sub-" + name, "must_change_password": false,
		}, nil)
		return err
	})
	plain = float64(n) / time.Since(start).Seconds()
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
	start = time.Now()
	inParallel(b, n, conc, func(k int) error {
		name := fmt.Sprintf("bridge-%s-%d", run, k)
		body, _ := json.Marshal(map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name,
			"externalId": "sub-" + name, "emails": []any{map[string]any{"value": name + "@example.com", "primary": true}},
		})
		req, _ := http.NewRequest("POST", base+"/Users", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+env["SCIMBRIDGE_SCIM_TOKEN"])
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return fmt.Errorf("POST: %d", resp.StatusCode)
		}
		return nil
	})
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
	bridge = float64(n) / time.Since(start).Seconds()
	cpu2 := cpuNow(g)
	cancel()
	<-done
	_ = m.Close()
	fmt.Fprintf(os.Stderr, "gitea provisioning, %d users at concurrency %d, %s: plain loop %.1f/s, bridge %.1f/s, ratio %.2f; bridge calls to gitea: %v\n", n, conc, layout, plain, bridge, bridge/plain, calls.snapshot())
	if cpu0.ok && cpu1.ok && cpu2.ok {
		per := func(d time.Duration) string { return fmt.Sprintf("%.1fms", d.Seconds()*1000/float64(n)) }
		fmt.Fprintf(os.Stderr, "cpu per user: gitea %s in the plain loop, %s in the bridge run; this process (client, and bridge) %s, %s\n",
			per(cpu1.gitea-cpu0.gitea), per(cpu2.gitea-cpu1.gitea), per(cpu1.self-cpu0.self), per(cpu2.self-cpu1.self))
	}
	return plain, bridge
}

// median returns the middle value of xs (the mean of the two middle ones
// for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func formatRatios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}

// inParallel calls fn for k = 1..n from conc goroutines, and returns when
// all are done. A worker whose call fails reports it and stops.
func inParallel(b *testing.B, n, conc int, fn func(k int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for k := next.Add(1); k <= int64(n); k = next.Add(1) {
				if err := fn(int(k)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
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
	for _, dir := range giteaProcs(g) {
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
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

// giteaProcs returns the /proc folders of the Gitea server whose command
// line names g.Dir.
func giteaProcs(g *harness.Gitea) []string {
	var dirs []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err == nil && bytes.Contains(cmdline, []byte(g.Dir)) && bytes.Contains(cmdline, []byte("web")) {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	return dirs
}
