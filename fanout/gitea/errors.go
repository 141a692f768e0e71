package gitea

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/scimbridge/scimbridge/fanout"
)

// statusError is an answer of Gitea's outside 2xx.
type statusError struct {
	status int
	// msg is Gitea's message, as the SDK reports it.
	msg string
}

func (e *statusError) Error() string {
	msg := fmt.Sprintf("status %d: %s", e.status, e.msg)
	switch e.status {
	case http.StatusUnauthorized:
		msg += " (is the access token valid?)"
	case http.StatusForbidden:
		msg += " (the token must belong to a site administrator and have every scope)"
	}
	return msg
}

// isStatus reports whether err is, or wraps, an answer with that status.
func isStatus(err error, status int) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == status
}

// classify turns an SDK error into the connector's: 429 and 503 ask for a
// retry after Retry-After; other 5xx answers, a 408, an unreadable 2xx
// answer and network errors are retried; any other answer is terminal, as
// is a request that could not even be built (it would fail again).
func classify(op string, resp *sdk.Response, err error) error {
	if resp != nil && resp.Response != nil && resp.StatusCode/100 != 2 {
		wrapped := fmt.Errorf("gitea: %s: %w", op, &statusError{status: resp.StatusCode, msg: strings.TrimSpace(err.Error())})
		return fanout.ClassifyStatus(wrapped, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	wrapped := fmt.Errorf("gitea: %s: %w", op, err)
	if resp != nil {
		return wrapped
	}
	return fanout.ClassifyNoAnswer(wrapped)
}
