package connectortest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Proxy is a reverse proxy in front of a service that fails or delays
// requests on command, so a connector meets the faults of a real network
// and a real service: a 502 from a load balancer, a 429 with Retry-After,
// an answer that never comes in time, a token without rights.
type Proxy struct {
	// URL is the proxy's address, with the service's own path appended.
	URL string

	mu       sync.Mutex
	requests int   // requests seen so far
	injected int   // requests answered with an injected status
	failAt   []int // 1-based request numbers to fail, from now on
	failN    int   // fail the next failN requests
	failAll  bool  // fail every request
	status   int   // the status of a failed request
	retry    string
	delay    time.Duration
	log      []string // "METHOD path?query" of each request, for failure messages
	ignore   func(request string) bool
}

// NewProxy starts a proxy in front of target and stops it when the test
// ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("connectortest: target url %q: %v", target, err)
	}
	p := &Proxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = u.Scheme
			r.Out.URL.Host = u.Host
			r.Out.Host = u.Host
		},
		ErrorLog: nil,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, retry, delay := p.next(r)
		// Read the body first: a server notices a client that hangs up
		// only once the request is read, and a held request would
		// otherwise keep the server (and its Close) waiting.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			if retry != "" {
				w.Header().Set("Retry-After", retry)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(`{"message":"injected by the connector suite: ` + http.StatusText(status) + `"}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL + u.EscapedPath()
	return p
}

// Ignore makes the proxy forward the requests fn tells, unharmed and
// uncounted: the requests a connector makes on its own (Target.Background).
func (p *Proxy) Ignore(fn func(request string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ignore = fn
}

// next counts r and says how to answer it: a status to fail it with
// (0: forward it), a Retry-After value and a delay.
func (p *Proxy) next(r *http.Request) (status int, retry string, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	req := r.Method + " " + r.URL.RequestURI()
	if p.ignore != nil && p.ignore(req) {
		return 0, "", 0
	}
	p.requests++
	p.log = append(p.log, req)
	fail := p.failAll
	if p.failN > 0 {
		p.failN--
		fail = true
	}
	for _, n := range p.failAt {
		if n == p.requests {
			fail = true
		}
	}
	if fail {
		p.injected++
		return p.status, p.retry, p.delay
	}
	return 0, "", p.delay
}

// Requests is the number of requests the proxy has seen (but those it
// ignores).
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Injected is the number of requests answered with an injected status.
func (p *Proxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

// Log returns "METHOD path?query" of the requests from the from-th on
// (0-based).
func (p *Proxy) Log(from int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if from > len(p.log) {
		return nil
	}
	return append([]string(nil), p.log[from:]...)
}

// FailNext answers the next n requests with status (and Retry-After, when
// retryAfter is not empty) without forwarding them.
func (p *Proxy) FailNext(n, status int, retryAfter string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failN, p.status, p.retry = n, status, retryAfter
}

// FailRequest answers the request whose number, counting from the
// proxy's start at 1, is n, with status.
func (p *Proxy) FailRequest(n, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failAt = append(p.failAt, n)
	p.status, p.retry = status, ""
}

// FailAll answers every request with status until Clear.
func (p *Proxy) FailAll(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failAll, p.status, p.retry = true, status, ""
}

// Delay holds every request for d before answering it, until Clear.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Clear ends every fault: requests are forwarded at once.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failAt, p.failN, p.failAll, p.status, p.retry, p.delay = nil, 0, false, 0, "", 0
}

// retryAfterSeconds formats d as a Retry-After value.
func retryAfterSeconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }
