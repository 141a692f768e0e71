package twenty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	graphql "github.com/hasura/go-graphql-client"

	"github.com/scimbridge/scimbridge/fanout"
)

// Twenty's error codes (extensions.code), from
// packages/twenty-server/src/engine/core-modules/graphql/utils/graphql-errors.util.ts
// in twentyhq/twenty.
const (
	codeUnauthenticated  = "UNAUTHENTICATED"
	codeForbidden        = "FORBIDDEN"
	codeBadUserInput     = "BAD_USER_INPUT"
	codeValidationFailed = "GRAPHQL_VALIDATION_FAILED"
	codeParseFailed      = "GRAPHQL_PARSE_FAILED"
	codeNotFound         = "NOT_FOUND"
	codeMethodNotAllowed = "METHOD_NOT_ALLOWED"
)

// terminalCodes are the codes of errors Twenty will repeat.
var terminalCodes = map[string]bool{
	codeUnauthenticated: true, codeForbidden: true, codeBadUserInput: true,
	codeValidationFailed: true, codeParseFailed: true, codeMethodNotAllowed: true,
	"PERSISTED_QUERY_NOT_FOUND": true, "PERSISTED_QUERY_NOT_SUPPORTED": true,
}

// apiError is an answer of Twenty's that reports a failure: an HTTP
// status outside 2xx, or GraphQL errors.
type apiError struct {
	// status is the HTTP status; 200 for GraphQL errors.
	status int
	// code is the first GraphQL error's extensions.code, if any.
	code string
	// msg is Twenty's message (the GraphQL errors' messages, joined).
	msg string
	// duplicate is set when Twenty reports a unique index violation.
	duplicate bool
}

func (e *apiError) Error() string {
	var b strings.Builder
	if e.status != http.StatusOK {
		fmt.Fprintf(&b, "status %d", e.status)
		if e.code != "" || e.msg != "" {
			b.WriteString(": ")
		}
	}
	if e.code != "" {
		b.WriteString(e.code + ": ")
	}
	b.WriteString(e.msg)
	switch {
	case e.duplicate:
	case e.code == codeUnauthenticated || e.status == http.StatusUnauthorized:
		b.WriteString(" (is the API key valid and not expired?)")
	case e.code == codeForbidden || e.status == http.StatusForbidden:
		b.WriteString(" (may the API key's role read and write People and Companies?)")
	case e.code == codeValidationFailed || e.code == codeParseFailed:
		b.WriteString(" (does the workspace still have the standard Person and Company fields?)")
	}
	return b.String()
}

// isDuplicate reports whether err is, or wraps, Twenty's report of a
// unique index violation.
func isDuplicate(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.duplicate
}

// isCode reports whether err is, or wraps, an answer with that code.
func isCode(err error, code string) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == code
}

// classify turns the GraphQL client's error into the connector's: 429
// and 503 ask for a retry after Retry-After; other 5xx answers, a 408,
// network errors and timeouts are retried; other 4xx answers are
// terminal. GraphQL errors are terminal when their code says that
// retrying cannot help (terminalCodes); others are retried.
func classify(op string, header http.Header, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("twenty: %s: %w", op, err)
	}
	var netErr graphql.NetworkError
	if errors.As(err, &netErr) {
		s := netErr.StatusCode()
		code, msg := bodyMessage(netErr.Body())
		if msg == "" {
			msg = http.StatusText(s)
		}
		wrapped := fmt.Errorf("twenty: %s: %w", op, &apiError{status: s, code: code, msg: msg})
		return fanout.ClassifyStatus(wrapped, s, header.Get("Retry-After"))
	}
	var gqlErrs graphql.Errors
	if !errors.As(err, &gqlErrs) || len(gqlErrs) == 0 {
		return fmt.Errorf("twenty: %s: %w", op, err)
	}
	// Errors the client made itself before or after the exchange.
	switch clientCode(gqlErrs[0]) {
	case graphql.ErrRequestError, graphql.ErrJsonDecode:
		// The request did not get through, or the answer was not JSON
		// (a proxy's page): retried.
		if cause := gqlErrs[0].Unwrap(); cause != nil {
			return fmt.Errorf("twenty: %s: %w", op, cause)
		}
		return fmt.Errorf("twenty: %s: %s", op, gqlErrs[0].Message)
	case graphql.ErrGraphQLDecode, graphql.ErrGraphQLEncode:
		return fanout.Terminal(fmt.Errorf("twenty: %s: the answer does not have the expected shape: %s", op, gqlErrs[0].Message))
	}
	ae := &apiError{status: http.StatusOK}
	terminal := false
	var msgs []string
	for _, e := range gqlErrs {
		code := clientCode(e)
		if ae.code == "" {
			ae.code = code
		}
		if terminalCodes[code] {
			terminal = true
			ae.code = code
		}
		msgs = append(msgs, e.Message)
		// Twenty's duplicate errors carry the conflicting record in newer
		// versions and say "Duplicate <field>" or "A duplicate entry was
		// detected" (handle-duplicate-key-error.util.ts) with
		// BAD_USER_INPUT; older ones code a unique violation FORBIDDEN
		// (workspace-query-runner-graphql-api-exception-handler.util.ts).
		// There is no code of their own.
		_, conflict := e.Extensions["conflictingRecordId"]
		lower := strings.ToLower(e.Message)
		if (code == codeBadUserInput || code == codeForbidden) &&
			(conflict || strings.Contains(lower, "duplicate") || strings.Contains(lower, "unique constraint")) {
			ae.duplicate = true
		}
	}
	ae.msg = strings.Join(msgs, "; ")
	wrapped := fmt.Errorf("twenty: %s: %w", op, ae)
	if terminal {
		return fanout.Terminal(wrapped)
	}
	return wrapped
}

func clientCode(e graphql.Error) string {
	code, _ := e.Extensions["code"].(string)
	return code
}

// bodyMessage reads the error of an answer outside 2xx: GraphQL errors,
// or a JSON message, or the start of the text.
func bodyMessage(body string) (code, msg string) {
	var gql struct {
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal([]byte(body), &gql) == nil {
		if len(gql.Errors) > 0 {
			return gql.Errors[0].Extensions.Code, gql.Errors[0].Message
		}
		var s string
		var list []string
		switch {
		case json.Unmarshal(gql.Message, &s) == nil && s != "":
			return "", s
		case json.Unmarshal(gql.Message, &list) == nil && len(list) > 0:
			return "", strings.Join(list, "; ")
		}
	}
	body = strings.TrimSpace(body)
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return "", body
}
