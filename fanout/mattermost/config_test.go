package mattermost

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

	"github.com/mattermost/mattermost/server/public/model"
	"go.yaml.in/yaml/v3"

	"github.com/scimbridge/scimbridge/fanout"
)

func validConfig() Config {
	return Config{URL: "https://chat.example.com/", Team: "platform"}
}

func TestOpen(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		c, err := Open(validConfig(), " tok ", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name() != "mattermost" || c.api.URL != "https://chat.example.com" || c.api.APIURL != "https://chat.example.com/api/v4" {
			t.Errorf("name %q, url %q, api url %q", c.Name(), c.api.URL, c.api.APIURL)
		}
		if c.api.AuthToken != "tok" || c.api.AuthType != model.HeaderBearer {
			t.Errorf("token not set as a bearer token")
		}
		if c.cfg.Timeout != DefaultTimeout || c.cfg.AuthService != "openid" || c.cfg.ChannelType != ChannelPrivate || c.cfg.GroupChannels {
			t.Errorf("defaults: %+v", c.cfg)
		}
	})
	t.Run("SubPath", func(t *testing.T) {
		cfg := validConfig()
		cfg.URL = "http://127.0.0.1:8065/chat/"
		c, err := Open(cfg, "tok", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.api.APIURL != "http://127.0.0.1:8065/chat/api/v4" {
			t.Errorf("api url %q", c.api.APIURL)
		}
	})
	t.Run("OKEveryService", func(t *testing.T) {
		for _, s := range []string{"openid", "gitlab", "google", "office365"} {
			cfg := validConfig()
			cfg.AuthService = s
			if _, err := Open(cfg, "tok", nil); err != nil {
				t.Errorf("authService %s: %v", s, err)
			}
		}
	})

	bad := map[string]func(*Config){
		"ErrNoURL":          func(c *Config) { c.URL = "" },
		"ErrRelativeURL":    func(c *Config) { c.URL = "chat.example.com" },
		"ErrScheme":         func(c *Config) { c.URL = "ftp://chat.example.com" },
		"ErrURLQuery":       func(c *Config) { c.URL = "https://chat.example.com/?x=1" },
		"ErrURLCredentials": func(c *Config) { c.URL = "https://u:p@chat.example.com/" },
		"ErrNoTeam":         func(c *Config) { c.Team = " " },
		"ErrTeamDisplay":    func(c *Config) { c.Team = "Platform Team" },
		"ErrAuthService":    func(c *Config) { c.AuthService = "saml" },
		"ErrChannelType":    func(c *Config) { c.ChannelType = "secret" },
		"ErrTimeout":        func(c *Config) { c.Timeout = -time.Second },
		"ErrAttrFilter":     func(c *Config) { c.AuthDataAttribute = `emails[type eq "work"].value` },
		"ErrAttrEmpty":      func(c *Config) { c.AuthDataAttribute = "name..givenName" },
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
		cfg.URL = "https://user:hunter2@chat.example.com/"
		_, err := Open(cfg, "tok", nil)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestConfigYAML(t *testing.T) {
	const doc = `
url: https://chat.example.com/
team: platform
authService: gitlab
authDataAttribute: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber
groupChannels: true
channelType: public
timeout: 5s
tokenFile: /run/secrets/mattermost-token
`
	var cfg Config
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	want := Config{
		URL: "https://chat.example.com/", Team: "platform", AuthService: "gitlab",
		AuthDataAttribute: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
		GroupChannels:     true, ChannelType: "public", Timeout: 5 * time.Second,
		TokenFile: "/run/secrets/mattermost-token",
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

func TestAuthData(t *testing.T) {
	var doc map[string]any
	raw := `{
		"id": "2819c223", "userName": "bjensen", "externalId": "ext-1",
		"name": {"givenName": "Barbara"},
		"gitlab": {"id": 4130},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "costCenter": "cc-12", "manager": {"value": "26118915"}, "flag": true}
	}`
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	u := fanout.User{ID: "2819c223", UserName: "bjensen", Subject: "ext-1", Attributes: doc}
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	tests := []struct {
		service, attr, want string
		terminal            bool
	}{
		{"", "", "ext-1", false},
		{"", "externalId", "ext-1", false},
		{"", "userName", "bjensen", false},
		{"", "id", "2819c223", false},
		{"", "name.givenName", "Barbara", false},
		{"", "NAME.GIVENNAME", "Barbara", false},
		{"", ent + ":employeeNumber", "701984", false},
		{"", strings.ToLower(ent) + ":EmployeeNumber", "701984", false},
		{"", ent + ":manager.value", "26118915", false},
		{"", ent + ":missing", "", false},
		{"", ent + ":flag", "", true},
		{"", ent + ":manager", "", true},
		{"gitlab", "gitlab.id", "4130", false},
		{"gitlab", ent + ":employeeNumber", "701984", false},
		{"gitlab", ent + ":costCenter", "", true}, // not a number
		{"gitlab", "", "", true},                  // "ext-1" is not a number
	}
	for _, tt := range tests {
		t.Run(tt.service+"/"+tt.attr, func(t *testing.T) {
			cfg := validConfig()
			cfg.AuthService, cfg.AuthDataAttribute = tt.service, tt.attr
			c, err := Open(cfg, "tok", nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.authData(u)
			if got != tt.want || (err != nil) != tt.terminal || (err != nil && !fanout.IsTerminal(err)) {
				t.Errorf("authData = %q, %v; want %q, terminal error %v", got, err, tt.want, tt.terminal)
			}
		})
	}
	t.Run("ErrTooLong", func(t *testing.T) {
		c, _ := Open(validConfig(), "tok", nil)
		long := u
		long.Subject = strings.Repeat("s", model.UserAuthDataMaxLength+1)
		if _, err := c.authData(long); !fanout.IsTerminal(err) {
			t.Errorf("a %d-byte subject gave %v", len(long.Subject), err)
		}
	})
	t.Run("ErrWhiteSpace", func(t *testing.T) {
		c, _ := Open(validConfig(), "tok", nil)
		spaced := u
		spaced.Subject = " ext-1"
		if _, err := c.authData(spaced); !fanout.IsTerminal(err) {
			t.Errorf("a subject with a leading space gave %v", err)
		}
	})
}

func TestClassify(t *testing.T) {
	answer := func(status int, header http.Header) *model.Response {
		if header == nil {
			header = http.Header{}
		}
		return &model.Response{StatusCode: status, Header: header}
	}
	appErr := func(id string, status int) error {
		return model.NewAppError("Where", id, nil, "", status)
	}
	tests := []struct {
		name     string
		resp     *model.Response
		err      error
		terminal bool
		after    time.Duration // a RetryAfterError's wait, or 0
		id       string        // the AppError id the message must show
	}{
		{"TooManyRequests", answer(429, http.Header{"Retry-After": {"7"}}), appErr("api.context.rate_limit", 429), false, 7 * time.Second, "api.context.rate_limit"},
		{"Unavailable", answer(503, nil), errors.New("not json"), false, fanout.DefaultRetryAfter, ""},
		{"ServerError", answer(500, nil), appErr(idSaveUser, 500), false, 0, idSaveUser},
		{"BadGateway", answer(502, nil), errors.New("failed to decode JSON payload into AppError. Body: <html>"), false, 0, ""},
		{"RequestTimeout", answer(408, nil), errors.New("x"), false, 0, ""},
		{"Unauthorized", answer(401, nil), appErr("api.context.session_expired.app_error", 401), true, 0, "api.context.session_expired.app_error"},
		{"Forbidden", answer(403, nil), appErr("api.context.permissions.app_error", 403), true, 0, "api.context.permissions.app_error"},
		{"NotFound", answer(404, nil), appErr(idMissingAccount, 404), true, 0, idMissingAccount},
		{"BadRequest", answer(400, nil), appErr(idUsernameExists, 400), true, 0, idUsernameExists},
		{"BadJSON", answer(200, nil), errors.New("failed to decode JSON response"), false, 0, ""},
		{"Refused", nil, &url.Error{Op: "Get", URL: "http://x", Err: syscall.ECONNREFUSED}, false, 0, ""},
		{"Deadline", nil, context.DeadlineExceeded, false, 0, ""},
		{"BadRequestBuilt", nil, errors.New("path segment is invalid"), true, 0, ""},
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
			if !strings.HasPrefix(strings.TrimPrefix(err.Error(), "terminal: "), "mattermost: op: ") {
				t.Errorf("message %q", err)
			}
			if tt.id != "" && (!strings.Contains(err.Error(), tt.id) || !isAppError(err, tt.id)) {
				t.Errorf("message %q does not carry the id %s", err, tt.id)
			}
			if tt.resp == nil && !errors.Is(err, tt.err) {
				t.Errorf("classify = %v does not wrap %v", err, tt.err)
			}
		})
	}
	t.Run("NotFound", func(t *testing.T) {
		if !isNotFound(classify("op", answer(404, nil), appErr(idMissingAccount, 404))) {
			t.Error("a missing account is not found")
		}
		// A 404 for the route itself, or from a proxy, means a wrong url,
		// never "no such user".
		if isNotFound(classify("op", answer(404, nil), appErr(idNoRoute, 404))) ||
			isNotFound(classify("op", answer(404, nil), errors.New("<html>404</html>"))) {
			t.Error("a 404 without a Mattermost object id counts as not found")
		}
	})
	t.Run("LongBody", func(t *testing.T) {
		err := classify("op", answer(502, nil), errors.New(strings.Repeat("<p>", 500)))
		if len(err.Error()) > 400 {
			t.Errorf("a long answer gave a %d-byte message", len(err.Error()))
		}
	})
}
