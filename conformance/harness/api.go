package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const apiTimeout = 30 * time.Second

// APIError is a Gitea API answer outside 2xx.
type APIError struct {
	// Method and Path are the request's, Path below /api/v1.
	Method, Path string
	// Status is the answer's HTTP status.
	Status int
	// Body is the start of the answer, usually {"message": ...}.
	Body string
}

// Error gives the request, the status and the start of the answer.
func (e *APIError) Error() string {
	return fmt.Sprintf("gitea %s %s: status %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// AdminAPI calls Gitea's API as the site admin (AdminToken). path is below
// /api/v1, e.g. "/admin/users". in, when not nil, is sent as JSON; out,
// when not nil, receives the JSON answer. An answer outside 2xx is an
// *APIError. The response is returned, body closed, for its headers.
func (g *Gitea) AdminAPI(ctx context.Context, method, path string, in, out any) (*http.Response, error) {
	resp, data, err := exchangeJSON(ctx, "gitea", method, g.URL+"/api/v1"+path, http.Header{"Authorization": {"token " + g.AdminToken}}, in)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 500 {
			msg = msg[:500]
		}
		return resp, &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: msg}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("gitea %s %s: decode answer: %w", method, path, err)
		}
	}
	return resp, nil
}

// UserCount returns how many users Gitea has, admin included (the
// X-Total-Count of GET /admin/users).
func (g *Gitea) UserCount(ctx context.Context) (int, error) {
	resp, err := g.AdminAPI(ctx, http.MethodGet, "/admin/users?limit=1", nil, nil)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(resp.Header.Get("X-Total-Count"))
	if err != nil {
		return 0, fmt.Errorf("gitea user count: X-Total-Count %q: %w", resp.Header.Get("X-Total-Count"), err)
	}
	return n, nil
}

// exchangeJSON sends in (when not nil) as JSON to url with header, and
// returns the answer (its body closed) and up to maxPageToRead bytes of
// it, whatever its status. service names the server in errors; the
// request is bounded by apiTimeout.
func exchangeJSON(ctx context.Context, service, method, url string, header http.Header, in any) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s %s: %w", service, method, url, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s %s: %w", service, method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPageToRead))
	if err != nil {
		return resp, nil, fmt.Errorf("%s %s %s: read answer: %w", service, method, url, err)
	}
	return resp, data, nil
}
