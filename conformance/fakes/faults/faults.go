// Package faults is the fault injection the fakes share: a test can make
// a fake fail its next requests with a status (and Retry-After), as a
// proxy or a rate limiter would, or hold every request, as an overloaded
// service does. Each fake writes the failed answer in its own service's
// error shape.
package faults

import (
	"net/http"
	"sync"
	"time"
)

// Injector holds the faults a test asked for. The zero value injects
// none; it is safe for concurrent use.
type Injector struct {
	mu     sync.Mutex
	n      int
	status int
	retry  string
	slow   time.Duration
}

// Fail makes the next n requests fail with status, with a Retry-After
// header when retryAfter is not empty. Fail(0, 0, "") ends it.
func (i *Injector) Fail(n, status int, retryAfter string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.n, i.status, i.retry = n, status, retryAfter
}

// Slow holds every request for d before it is answered; 0 ends it.
func (i *Injector) Slow(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.slow = d
}

// Take applies the faults to one request: it holds the request while
// Slow says so, and when a failure is due it sets Retry-After on w and
// returns the status to answer with; 0 means serve the request. ok is
// false when the client gave up while the request was held: answer
// nothing.
func (i *Injector) Take(w http.ResponseWriter, r *http.Request) (status int, ok bool) {
	i.mu.Lock()
	slow, retry := i.slow, ""
	if i.n > 0 {
		i.n--
		status, retry = i.status, i.retry
	}
	i.mu.Unlock()
	if slow > 0 {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return 0, false
		}
	}
	if status != 0 && retry != "" {
		w.Header().Set("Retry-After", retry)
	}
	return status, true
}
