package coder

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coder/coder/v2/codersdk"

	"github.com/scimbridge/scimbridge/fanout"
)

// answerKey carries an *answer in a request's context.
type answerKey struct{}

// answer is the status and Retry-After of the last response to a call:
// codersdk's errors keep the status but not the headers.
type answer struct {
	status     int
	retryAfter string
}

// statusRecorder fills the *answer of the request's context.
type statusRecorder struct{ next http.RoundTripper }

func (t statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if a, ok := r.Context().Value(answerKey{}).(*answer); ok && resp != nil {
		a.status, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	return resp, err
}

// statusError is an answer of Coder's outside 2xx.
type statusError struct {
	status int
	// sdk is codersdk's error, when the answer could be read.
	sdk *codersdk.Error
}

func (e *statusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %d", e.status)
	if e.sdk != nil {
		if m := strings.TrimSpace(e.sdk.Message); m != "" {
			fmt.Fprintf(&b, ": %s", m)
		}
		if d := strings.TrimSpace(e.sdk.Detail); d != "" {
			fmt.Fprintf(&b, " (%s)", strings.Join(strings.Fields(d), " "))
		}
		for _, v := range e.sdk.Validations {
			fmt.Fprintf(&b, "; %s: %s", v.Field, v.Detail)
		}
	}
	switch e.status {
	case http.StatusUnauthorized:
		b.WriteString(" (is the token valid and unexpired?)")
	case http.StatusForbidden:
		if e.sdk == nil || !strings.Contains(e.sdk.Message, "Premium") {
			b.WriteString(" (the token must belong to an Owner or a User Admin)")
		}
	}
	return b.String()
}

// Unwrap gives codersdk's error, for errors.As.
func (e *statusError) Unwrap() error {
	if e.sdk == nil {
		return nil
	}
	return e.sdk
}

// isStatus reports whether err is, or wraps, an answer with that status.
func isStatus(err error, status int) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == status
}

// classify turns a codersdk error into the connector's: 429 and 503 ask
// for a retry after Retry-After; other 5xx answers, a 408, an unreadable
// answer, timeouts and network errors are retried; any other answer is
// terminal, as is a request that could not even be built (it would fail
// again).
func classify(op string, rec *answer, err error) error {
	status := rec.status
	var sdkErr *codersdk.Error
	if errors.As(err, &sdkErr) && sdkErr.StatusCode() != 0 {
		status = sdkErr.StatusCode()
	}
	if status != 0 && status/100 != 2 {
		wrapped := fmt.Errorf("coder: %s: %w", op, &statusError{status: status, sdk: sdkErr})
		return fanout.ClassifyStatus(wrapped, status, rec.retryAfter)
	}
	wrapped := fmt.Errorf("coder: %s: %w", op, err)
	if status != 0 {
		return wrapped // a 2xx answer that could not be read
	}
	return fanout.ClassifyNoAnswer(wrapped)
}
