// Package load drives a SCIM 2.0 service provider with many concurrent
// clients and measures throughput and latency per phase: creating users,
// reading them by id, looking them up with a userName filter, adding
// members one by one to a single group, and reading that group back. It
// is what `scimbridge bench` runs.
//
// Every name a run creates carries a random run id, so runs can repeat
// against the same server. Nothing is deleted afterwards.
package load

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Config says which server to load and how hard.
type Config struct {
	// BaseURL is the SCIM root, for example "http://127.0.0.1:8080/scim/v2".
	BaseURL string
	// Token is the bearer token sent with every request.
	Token string
	// Users is how many users to create. Default 10000.
	Users int
	// Concurrency is how many clients run at once in the concurrent
	// phases. Default 16.
	Concurrency int
	// Members is how many users to add, one PATCH each, to one group.
	// Default (and maximum) the number of users created.
	Members int
	// Reads is how many requests each read phase makes. Default
	// max(Users, 20000).
	Reads int
	// Duration, when set, ends each read phase early once it has run this
	// long.
	Duration time.Duration
}

// Defaults for Config fields left zero.
const (
	DefaultUsers       = 10000
	DefaultConcurrency = 16
	minReads           = 20000
	// groupReads is how many times the filled group is read back.
	groupReads = 5
	// requestTimeout bounds every single request.
	requestTimeout = 60 * time.Second
)

// Phase is the measurement of one phase.
type Phase struct {
	// Name says what the phase did, for example "create users".
	Name string
	// Ops is how many requests were made, failed ones included.
	Ops int
	// Errors is how many requests failed: a transport error or an
	// unexpected status or answer.
	Errors int
	// Elapsed is the wall-clock time of the phase.
	Elapsed time.Duration
	// P50 and P99 are latency percentiles of the successful requests.
	P50, P99 time.Duration
}

// OpsPerSec is the phase's throughput in requests per second.
func (p Phase) OpsPerSec() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Ops) / p.Elapsed.Seconds()
}

// PrintTable writes phases as an aligned table.
func PrintTable(w io.Writer, phases []Phase) {
	// Numbers align right; names are padded to one width so that they
	// read left-aligned all the same.
	width := len("phase")
	for _, p := range phases {
		width = max(width, len(p.Name))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tops\terrors\telapsed\tops/s\tp50\tp99\t\n", width, "phase")
	for _, p := range phases {
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%s\t%.0f\t%s\t%s\t\n", width, p.Name, p.Ops, p.Errors,
			p.Elapsed.Round(time.Millisecond), p.OpsPerSec(), roundLatency(p.P50), roundLatency(p.P99))
	}
	_ = tw.Flush()
}

// roundLatency keeps three significant figures or so.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// Run creates cfg.Users users, then measures the read phases and the
// group phases, writing progress lines to progress (which may be nil). It
// returns the phases it completed; the error says why it stopped early.
func Run(ctx context.Context, cfg Config, progress io.Writer) ([]Phase, error) {
	cfg = withDefaults(cfg)
	if cfg.BaseURL == "" {
		return nil, errors.New("load: no base URL")
	}
	if progress == nil {
		progress = io.Discard
	}
	r := &runner{cfg: cfg, progress: progress, runID: runID(), http: newHTTPClient(cfg.Concurrency)}
	defer r.http.CloseIdleConnections()

	var phases []Phase
	names := make([]string, cfg.Users)
	ids := make([]string, cfg.Users)
	phases = append(phases, r.phase(ctx, "create users", cfg.Users, cfg.Concurrency, 0, func(ctx context.Context, i int) error {
		names[i] = fmt.Sprintf("bench-%s-%06d", r.runID, i)
		var created struct{ ID string }
		if err := r.call(ctx, http.MethodPost, "/Users", userBody(names[i]), http.StatusCreated, &created); err != nil {
			return err
		}
		if created.ID == "" {
			return errors.New("created user has no id")
		}
		ids[i] = created.ID
		return nil
	}))
	var users []int
	for i, id := range ids {
		if id != "" {
			users = append(users, i)
		}
	}
	if err := ctx.Err(); err != nil {
		return phases, err
	}
	if len(users) == 0 {
		return phases, errors.New("load: no user could be created")
	}
	pick := func() int { return users[rand.IntN(len(users))] }

	phases = append(phases, r.phase(ctx, "get user", cfg.Reads, cfg.Concurrency, cfg.Duration, func(ctx context.Context, _ int) error {
		return r.call(ctx, http.MethodGet, "/Users/"+url.PathEscape(ids[pick()]), nil, http.StatusOK, nil)
	}))
	if err := ctx.Err(); err != nil {
		return phases, err
	}
	phases = append(phases, r.phase(ctx, "filter userName eq", cfg.Reads, cfg.Concurrency, cfg.Duration, func(ctx context.Context, _ int) error {
		q := url.Values{"filter": {`userName eq "` + names[pick()] + `"`}}
		var list struct{ TotalResults int }
		if err := r.call(ctx, http.MethodGet, "/Users?"+q.Encode(), nil, http.StatusOK, &list); err != nil {
			return err
		}
		if list.TotalResults != 1 {
			return fmt.Errorf("filter %s: expected totalResults 1, got %d", q.Get("filter"), list.TotalResults)
		}
		return nil
	}))
	if err := ctx.Err(); err != nil {
		return phases, err
	}

	var group struct{ ID string }
	gctx, cancel := context.WithTimeout(ctx, requestTimeout)
	err := r.call(gctx, http.MethodPost, "/Groups", map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "bench-" + r.runID + "-group",
	}, http.StatusCreated, &group)
	cancel()
	if err == nil && group.ID == "" {
		err = errors.New("created group has no id")
	}
	if err != nil {
		return phases, fmt.Errorf("load: create group: %w", err)
	}
	groupPath := "/Groups/" + url.PathEscape(group.ID)
	members := min(cfg.Members, len(users))
	phases = append(phases, r.phase(ctx, "add member", members, 1, 0, func(ctx context.Context, i int) error {
		return r.call(ctx, http.MethodPatch, groupPath, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{
				"op": "add", "path": "members",
				"value": []any{map[string]string{"value": ids[users[i]]}},
			}},
		}, 0, nil)
	}))
	if err := ctx.Err(); err != nil {
		return phases, err
	}
	phases = append(phases, r.phase(ctx, "get group", groupReads, 1, cfg.Duration, func(ctx context.Context, _ int) error {
		return r.call(ctx, http.MethodGet, groupPath, nil, http.StatusOK, nil)
	}))
	return phases, ctx.Err()
}

func withDefaults(cfg Config) Config {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Users <= 0 {
		cfg.Users = DefaultUsers
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Members <= 0 || cfg.Members > cfg.Users {
		cfg.Members = cfg.Users
	}
	if cfg.Reads <= 0 {
		cfg.Reads = max(cfg.Users, minReads)
	}
	return cfg
}

// runID returns 8 random hex digits naming one run.
func runID() string {
	b := make([]byte, 4)
	_, _ = crand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// newHTTPClient returns a client that keeps one idle connection per
// concurrent worker, so that connections are reused rather than redialled.
func newHTTPClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2 * concurrency
	t.MaxIdleConnsPerHost = concurrency
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

func userBody(userName string) map[string]any {
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    userName,
		"displayName": userName,
		"name":        map[string]string{"givenName": "Bench", "familyName": userName},
		"emails":      []any{map[string]any{"value": userName + "@bench.example", "type": "work", "primary": true}},
		"active":      true,
	}
}

// runner holds what the phases of one run share.
type runner struct {
	cfg      Config
	progress io.Writer
	runID    string
	http     *http.Client
}

// call sends one request and checks the status: want, or any 2xx when
// want is 0. With out, the body is decoded into it; otherwise it is
// drained so that the connection can be reused.
func (r *runner) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.BaseURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.cfg.Token)
	req.Header.Set("Accept", "application/scim+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	ok := resp.StatusCode == want || (want == 0 && resp.StatusCode/100 == 2)
	if !ok {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("%s %s: status %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s %s: decode response: %w", method, path, err)
		}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// phase runs op for i in [0, total) on workers goroutines and measures it.
// With limit > 0 the phase stops starting requests once it has run that
// long. A progress line is written every second and at the end.
func (r *runner) phase(ctx context.Context, name string, total, workers int, limit time.Duration, op func(ctx context.Context, i int) error) Phase {
	start := time.Now()
	var next, done, failed atomic.Int64
	lat := make([][]time.Duration, workers)

	stop := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := int64(0)
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n := done.Load()
				fmt.Fprintf(r.progress, "%s: %d/%d %d/s\n", name, n, total, n-last)
				last = n
			}
		}
	})

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= total || (limit > 0 && time.Since(start) >= limit) {
					return
				}
				rctx, cancel := context.WithTimeout(ctx, requestTimeout)
				t0 := time.Now()
				err := op(rctx, i)
				d := time.Since(t0)
				cancel()
				if err != nil {
					failed.Add(1)
				} else {
					lat[w] = append(lat[w], d)
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	ticker.Wait()

	p := Phase{Name: name, Ops: int(done.Load()), Errors: int(failed.Load()), Elapsed: time.Since(start)}
	all := slices.Concat(lat...)
	slices.Sort(all)
	p.P50, p.P99 = percentile(all, 50), percentile(all, 99)
	fmt.Fprintf(r.progress, "%s: %d/%d done in %s, %d errors, %.0f/s\n", name, p.Ops, total, p.Elapsed.Round(time.Millisecond), p.Errors, p.OpsPerSec())
	return p
}

// percentile returns the q-th percentile of sorted latencies, nearest rank.
func percentile(sorted []time.Duration, q int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (q*len(sorted) + 99) / 100 // ceil(q/100 * n)
	return sorted[max(rank, 1)-1]
}
