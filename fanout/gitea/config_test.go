package gitea

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "code.gitea.io/sdk/gitea"
	"go.yaml.in/yaml/v3"

	"github.com/scimbridge/scimbridge/fanout"
)

func validConfig() Config {
	return Config{URL: "https://git.example.com/", AuthSourceID: 2, Organization: "platform"}
}

func TestOpen(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		c, err := Open(validConfig(), "tok", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name() != "gitea" || c.baseURL != "https://git.example.com" {
			t.Errorf("name %q, base url %q", c.Name(), c.baseURL)
		}
		if c.cfg.Timeout != DefaultTimeout || c.cfg.TeamPermission != "read" || c.cfg.OnDelete != OnDeleteSuspend {
			t.Errorf("defaults: %+v", c.cfg)
		}
	})
	t.Run("SubPath", func(t *testing.T) {
		cfg := validConfig()
		cfg.URL = "http://127.0.0.1:3000/git/"
		c, err := Open(cfg, "tok", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.baseURL != "http://127.0.0.1:3000/git" {
			t.Errorf("base url %q", c.baseURL)
		}
	})

	bad := map[string]func(*Config){
		"ErrNoURL":          func(c *Config) { c.URL = "" },
		"ErrRelativeURL":    func(c *Config) { c.URL = "git.example.com" },
		"ErrScheme":         func(c *Config) { c.URL = "ftp://git.example.com" },
		"ErrURLQuery":       func(c *Config) { c.URL = "https://git.example.com/?x=1" },
		"ErrURLCredentials": func(c *Config) { c.URL = "https://u:p@git.example.com/" },
		"ErrAuthSource":     func(c *Config) { c.AuthSourceID = 0 },
		"ErrOrganization":   func(c *Config) { c.Organization = " " },
		"ErrTeamPermission": func(c *Config) { c.TeamPermission = "owner" },
		"ErrOnDelete":       func(c *Config) { c.OnDelete = "purge" },
		"ErrTimeout":        func(c *Config) { c.Timeout = -time.Second },
		"ErrSubjectFilter":  func(c *Config) { c.SubjectAttribute = `emails[type eq "work"].value` },
		"ErrSubjectEmpty":   func(c *Config) { c.SubjectAttribute = "name..givenName" },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			cfg := validConfig()
			mutate(&cfg)
			if _, err := Open(cfg, "tok", nil); err == nil {
				t.Errorf("Open(%+v) succeeded", cfg)
			}
		})
	}
	t.Run("ErrNoToken", func(t *testing.T) {
		if _, err := Open(validConfig(), " ", nil); err == nil {
			t.Error("Open without a token succeeded")
		}
	})
	t.Run("SecretNotInErrors", func(t *testing.T) {
		cfg := validConfig()
		cfg.URL = "https://user:hunter2@git.example.com/"
		_, err := Open(cfg, "tok", nil)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestConfigYAML(t *testing.T) {
	const doc = `
url: https://git.example.com/
authSourceID: 2
organization: platform
subjectAttribute: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber
teamPermission: write
onDelete: delete
timeout: 5s
tokenFile: /run/secrets/gitea-token
`
	var cfg Config
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	want := Config{
		URL: "https://git.example.com/", AuthSourceID: 2, Organization: "platform",
		SubjectAttribute: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
		TeamPermission:   "write", OnDelete: "delete", Timeout: 5 * time.Second,
		TokenFile: "/run/secrets/gitea-token",
	}
	if cfg != want {
		t.Errorf("decoded %+v\nwant    %+v", cfg, want)
	}
	if _, err := Open(cfg, "tok", nil); err != nil {
		t.Error(err)
	}
}

func TestLoadToken(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == TokenEnv {
				return v
			}
			return ""
		}
	}
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("OKEnv", func(t *testing.T) {
		got, err := LoadToken(Config{}, env(" from-env "))
		if err != nil || got != "from-env" {
			t.Errorf("LoadToken = %q, %v", got, err)
		}
	})
	t.Run("OKFile", func(t *testing.T) {
		got, err := LoadToken(Config{TokenFile: file}, env(""))
		if err != nil || got != "from-file" {
			t.Errorf("LoadToken = %q, %v", got, err)
		}
	})
	for name, tc := range map[string]struct {
		cfg Config
		env string
	}{
		"ErrNeither":     {Config{}, ""},
		"ErrBoth":        {Config{TokenFile: file}, "from-env"},
		"ErrMissingFile": {Config{TokenFile: filepath.Join(t.TempDir(), "nope")}, ""},
		"ErrEmptyFile":   {Config{TokenFile: empty}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := LoadToken(tc.cfg, env(tc.env))
			if err == nil {
				t.Errorf("LoadToken = %q, want an error", got)
			}
			if err != nil && (strings.Contains(err.Error(), "from-file") || strings.Contains(err.Error(), "from-env")) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestSubject(t *testing.T) {
	var doc map[string]any
	raw := `{
		"id": "2819c223", "userName": "bjensen", "externalId": "ext-1",
		"name": {"givenName": "Barbara"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "costCenter": 4130, "manager": {"value": "26118915"}, "flag": true}
	}`
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	u := fanout.User{ID: "2819c223", UserName: "bjensen", Subject: "ext-1", Attributes: doc}
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	tests := []struct {
		attr, want string
		terminal   bool
	}{
		{"", "ext-1", false},
		{"externalId", "ext-1", false},
		{"userName", "bjensen", false},
		{"id", "2819c223", false},
		{"name.givenName", "Barbara", false},
		{"NAME.GIVENNAME", "Barbara", false},
		{ent + ":employeeNumber", "701984", false},
		{strings.ToLower(ent) + ":EmployeeNumber", "701984", false},
		{ent + ":costCenter", "4130", false},
		{ent + ":manager.value", "26118915", false},
		{ent + ":missing", "", false},
		{"name.givenName.more", "", false},
		{ent + ":flag", "", true},
		{ent + ":manager", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.attr, func(t *testing.T) {
			cfg := validConfig()
			cfg.SubjectAttribute = tt.attr
			c, err := Open(cfg, "tok", nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.subject(u)
			if got != tt.want || (err != nil) != tt.terminal || (err != nil && !fanout.IsTerminal(err)) {
				t.Errorf("subject = %q, %v; want %q, terminal error %v", got, err, tt.want, tt.terminal)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	answer := func(status int, header http.Header) *sdk.Response {
		if header == nil {
			header = http.Header{}
		}
		return &sdk.Response{Response: &http.Response{StatusCode: status, Header: header}}
	}
	cause := errors.New("message")
	tests := []struct {
		name     string
		resp     *sdk.Response
		err      error
		terminal bool
		after    time.Duration // a RetryAfterError's wait, or 0
	}{
		{"TooManyRequests", answer(429, http.Header{"Retry-After": {"7"}}), cause, false, 7 * time.Second},
		{"Unavailable", answer(503, nil), cause, false, fanout.DefaultRetryAfter},
		{"ServerError", answer(500, nil), cause, false, 0},
		{"BadGateway", answer(502, nil), cause, false, 0},
		{"Unauthorized", answer(401, nil), cause, true, 0},
		{"Forbidden", answer(403, nil), cause, true, 0},
		{"NotFound", answer(404, nil), cause, true, 0},
		{"Unprocessable", answer(422, nil), cause, true, 0},
		{"BadJSON", answer(200, nil), cause, false, 0},
		{"Refused", nil, &url.Error{Op: "Get", URL: "http://x", Err: syscall.ECONNREFUSED}, false, 0},
		{"Deadline", nil, context.DeadlineExceeded, false, 0},
		{"BadRequestBuilt", nil, errors.New("path segment is invalid"), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("op", tt.resp, tt.err)
			if fanout.IsTerminal(err) != tt.terminal {
				t.Errorf("classify = %v, terminal %v, want %v", err, fanout.IsTerminal(err), tt.terminal)
			}
			var ra *fanout.RetryAfterError
			if got := errors.As(err, &ra); got != (tt.after > 0) || (got && ra.After != tt.after) {
				t.Errorf("classify = %v, want retry after %v", err, tt.after)
			}
			if !errors.Is(err, tt.err) && tt.resp == nil {
				t.Errorf("classify = %v does not wrap %v", err, tt.err)
			}
			if !strings.HasPrefix(strings.TrimPrefix(err.Error(), "terminal: "), "gitea: op: ") {
				t.Errorf("message %q", err)
			}
		})
	}
	t.Run("Status", func(t *testing.T) {
		err := classify("op", answer(404, nil), cause)
		if !isStatus(err, http.StatusNotFound) || isStatus(err, http.StatusUnprocessableEntity) {
			t.Errorf("isStatus(%v)", err)
		}
	})
}
