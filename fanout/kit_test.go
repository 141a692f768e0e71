package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/fanout"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":     fanout.DefaultRetryAfter,
		"120":  2 * time.Minute,
		" 7 ":  7 * time.Second,
		"0":    time.Second,
		"soon": fanout.DefaultRetryAfter,
		now.Add(time.Minute).Format(http.TimeFormat):  time.Minute,
		now.Add(-time.Minute).Format(http.TimeFormat): time.Second,
	} {
		if got := fanout.ParseRetryAfter(v, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "SVC_TOKEN" {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name, env, file, want, err string
	}{
		{"Env", " from-env ", "", "from-env", ""},
		{"File", "", file, "from-file", ""},
		{"ErrNone", "", "", "", "svc: no access token: set SVC_TOKEN or tokenFile"},
		{"ErrBoth", "x", file, "", "svc: both SVC_TOKEN and tokenFile are set"},
		{"ErrEmptyFile", "", empty, "", "is empty"},
		{"ErrMissingFile", "", filepath.Join(dir, "nope"), "", "svc: read tokenFile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fanout.LoadToken("svc", "SVC_TOKEN", tc.file, env(tc.env))
			if tc.err == "" && (err != nil || got != tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("got %q, %v; want an error with %q", got, err, tc.err)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	for in, want := range map[string][]string{
		"":               nil,
		"externalId":     {"externalId"},
		"name.givenName": {"name", "givenName"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": {
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "employeeNumber"},
	} {
		got, err := fanout.ParseAttributePath(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseAttributePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`emails[type eq "work"]`, "name..givenName", "a b"} {
		if _, err := fanout.ParseAttributePath(bad); err == nil {
			t.Errorf("ParseAttributePath(%q) accepted a path it cannot follow", bad)
		}
	}
	doc := map[string]any{"Name": map[string]any{"givenName": "Ada"}, "id": float64(42), "big": 1.5, "list": []any{"x"}}
	for _, tc := range []struct {
		path []string
		want string
	}{{[]string{"name", "GIVENNAME"}, "Ada"}, {[]string{"id"}, "42"}, {[]string{"big"}, "1.5"}, {[]string{"missing", "x"}, ""}} {
		if got, err := fanout.LookupAttribute(doc, tc.path); err != nil || got != tc.want {
			t.Errorf("LookupAttribute(%q) = %q, %v; want %q", tc.path, got, err, tc.want)
		}
	}
	if _, err := fanout.LookupAttribute(doc, []string{"list"}); !errors.Is(err, fanout.ErrNotString) {
		t.Errorf("a list read as text: %v", err)
	}
}

func TestParseServiceURL(t *testing.T) {
	for raw, want := range map[string]string{
		" https://git.example.com/ ":    "https://git.example.com",
		"http://127.0.0.1:3000/gitea//": "http://127.0.0.1:3000/gitea",
	} {
		u, err := fanout.ParseServiceURL("svc", raw)
		if err != nil || u.String() != want {
			t.Errorf("ParseServiceURL(%q) = %v, %v; want %s", raw, u, err, want)
		}
	}
	for raw, msg := range map[string]string{
		"":                                 "svc: url is required",
		"git.example.com":                  "want an absolute http or https url",
		"ftp://git.example.com":            "want an absolute http or https url",
		"https://u:secret@git.example.com": "want no credentials",
		"https://git.example.com/?a=b":     "want no credentials, query or fragment",
	} {
		_, err := fanout.ParseServiceURL("svc", raw)
		if err == nil || !strings.Contains(err.Error(), msg) || strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseServiceURL(%q) = %v, want an error with %q and no password", raw, err, msg)
		}
	}
}

func TestClassifyStatus(t *testing.T) {
	base := errors.New("answer")
	for _, tc := range []struct {
		status         int
		retryAfter     string
		terminal       bool
		wantRetryAfter time.Duration
	}{
		{http.StatusTooManyRequests, "7", false, 7 * time.Second},
		{http.StatusServiceUnavailable, "", false, fanout.DefaultRetryAfter},
		{http.StatusBadGateway, "", false, 0},
		{http.StatusRequestTimeout, "", false, 0},
		{http.StatusForbidden, "", true, 0},
		{http.StatusUnprocessableEntity, "", true, 0},
	} {
		err := fanout.ClassifyStatus(base, tc.status, tc.retryAfter)
		if !errors.Is(err, base) || fanout.IsTerminal(err) != tc.terminal {
			t.Errorf("%d: %v (terminal %v), want terminal %v", tc.status, err, fanout.IsTerminal(err), tc.terminal)
		}
		var ra *fanout.RetryAfterError
		if got := errors.As(err, &ra); got != (tc.wantRetryAfter > 0) || got && ra.After != tc.wantRetryAfter {
			t.Errorf("%d: retry after %v, want %v", tc.status, ra, tc.wantRetryAfter)
		}
	}
}

func TestClassifyNoAnswer(t *testing.T) {
	for _, tc := range []struct {
		err      error
		terminal bool
	}{
		{context.DeadlineExceeded, false},
		{fmt.Errorf("wrapped: %w", context.Canceled), false},
		{&url.Error{Op: "Get", URL: "http://x", Err: errors.New("connection refused")}, false},
		{&net.OpError{Op: "dial", Err: errors.New("no route")}, false},
		{errors.New("cannot build the request"), true},
	} {
		if got := fanout.IsTerminal(fanout.ClassifyNoAnswer(tc.err)); got != tc.terminal {
			t.Errorf("%v: terminal %v, want %v", tc.err, got, tc.terminal)
		}
	}
}
