package twenty

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	graphql "github.com/hasura/go-graphql-client"
	"go.yaml.in/yaml/v3"

	"github.com/scimbridge/scimbridge/fanout"
)

func TestOpen(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		c, err := Open(Config{URL: "https://crm.example.com/"}, "key", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name() != "twenty" || c.endpoint != "https://crm.example.com/graphql" {
			t.Errorf("name %q, endpoint %q", c.Name(), c.endpoint)
		}
		if c.cfg.Timeout != DefaultTimeout || c.cfg.OnDelete != OnDeleteKeep || c.cfg.GroupCompanies {
			t.Errorf("defaults: %+v", c.cfg)
		}
	})
	for raw, want := range map[string]string{
		"http://127.0.0.1:3000/crm/":        "http://127.0.0.1:3000/crm/graphql",
		"https://crm.example.com/graphql":   "https://crm.example.com/graphql",
		" https://crm.example.com/graphql/": "https://crm.example.com/graphql",
	} {
		t.Run("Endpoint", func(t *testing.T) {
			c, err := Open(Config{URL: raw}, "key", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.endpoint != want {
				t.Errorf("url %q gave endpoint %q, want %q", raw, c.endpoint, want)
			}
		})
	}
	bad := map[string]Config{
		"ErrNoURL":          {},
		"ErrRelativeURL":    {URL: "crm.example.com"},
		"ErrScheme":         {URL: "ftp://crm.example.com"},
		"ErrURLQuery":       {URL: "https://crm.example.com/?x=1"},
		"ErrURLCredentials": {URL: "https://u:p@crm.example.com/"},
		"ErrOnDelete":       {URL: "https://crm.example.com", OnDelete: "destroy"},
		"ErrTimeout":        {URL: "https://crm.example.com", Timeout: -time.Second},
	}
	for name, cfg := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := Open(cfg, "key", nil); err == nil {
				t.Errorf("Open(%+v) succeeded", cfg)
			}
		})
	}
	t.Run("ErrNoToken", func(t *testing.T) {
		if _, err := Open(Config{URL: "https://crm.example.com"}, " \n", nil); err == nil {
			t.Error("Open without a token succeeded")
		}
	})
	t.Run("ErrTokenLineBreak", func(t *testing.T) {
		_, err := Open(Config{URL: "https://crm.example.com"}, "abc\ndef", nil)
		if err == nil || strings.Contains(err.Error(), "abc") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("SecretNotInErrors", func(t *testing.T) {
		_, err := Open(Config{URL: "https://user:hunter2@crm.example.com"}, "key", nil)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %v", err)
		}
	})
}

func TestConfigYAML(t *testing.T) {
	var cfg Config
	err := yaml.Unmarshal([]byte("url: https://crm.example.com\nonDelete: softDelete\ngroupCompanies: true\ntimeout: 5s\ntokenFile: /run/key\n"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{URL: "https://crm.example.com", OnDelete: OnDeleteSoftDelete, GroupCompanies: true, Timeout: 5 * time.Second, TokenFile: "/run/key"}
	if cfg != want {
		t.Errorf("got %+v, want %+v", cfg, want)
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
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("  file-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("Env", func(t *testing.T) {
		if tok, err := LoadToken(Config{}, env(" env-key ")); err != nil || tok != "env-key" {
			t.Errorf("%q, %v", tok, err)
		}
	})
	t.Run("File", func(t *testing.T) {
		if tok, err := LoadToken(Config{TokenFile: file}, env("")); err != nil || tok != "file-key" {
			t.Errorf("%q, %v", tok, err)
		}
	})
	for name, tc := range map[string]struct {
		cfg Config
		env string
	}{
		"ErrNeither":   {Config{}, ""},
		"ErrBoth":      {Config{TokenFile: file}, "env-key"},
		"ErrEmptyFile": {Config{TokenFile: empty}, ""},
		"ErrNoFile":    {Config{TokenFile: filepath.Join(dir, "missing")}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			if tok, err := LoadToken(tc.cfg, env(tc.env)); err == nil {
				t.Errorf("got %q", tok)
			}
		})
	}
}

// gqlErr builds the client's error for GraphQL errors with these codes.
func gqlErr(codes ...string) error {
	var errs graphql.Errors
	for _, c := range codes {
		errs = append(errs, graphql.Error{Message: "message of " + c, Extensions: map[string]any{"code": c}})
	}
	return errs
}

func TestClassifyGraphQLErrors(t *testing.T) {
	for codes, terminal := range map[string]bool{
		"UNAUTHENTICATED":           true,
		"FORBIDDEN":                 true,
		"BAD_USER_INPUT":            true,
		"GRAPHQL_VALIDATION_FAILED": true,
		"GRAPHQL_PARSE_FAILED":      true,
		"NOT_FOUND":                 false,
		"INTERNAL_SERVER_ERROR":     false,
		"TIMEOUT":                   false,
		"SOMETHING_NEW":             false,
		"NOT_FOUND,FORBIDDEN":       true,
	} {
		t.Run(codes, func(t *testing.T) {
			err := classify("op", http.Header{}, gqlErr(strings.Split(codes, ",")...))
			if fanout.IsTerminal(err) != terminal {
				t.Errorf("terminal = %v, want %v: %v", fanout.IsTerminal(err), terminal, err)
			}
			if !strings.HasPrefix(err.Error(), "twenty: op: ") && !strings.HasPrefix(err.Error(), "terminal: twenty: op: ") {
				t.Errorf("message %q", err)
			}
		})
	}
	t.Run("DecodeIsTerminal", func(t *testing.T) {
		err := classify("op", http.Header{}, graphql.Errors{{Message: "cannot decode", Extensions: map[string]any{"code": graphql.ErrGraphQLDecode}}})
		if !fanout.IsTerminal(err) {
			t.Errorf("%v", err)
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		for _, e := range []graphql.Error{
			{Message: "Duplicate Emails with value a@example.com. Please set a unique one.", Extensions: map[string]any{"code": "BAD_USER_INPUT"}},
			{Message: "x", Extensions: map[string]any{"code": "BAD_USER_INPUT", "conflictingRecordId": "id"}},
			{Message: "duplicate key value violates unique constraint", Extensions: map[string]any{"code": "FORBIDDEN"}},
		} {
			if err := classify("op", http.Header{}, graphql.Errors{e}); !isDuplicate(err) || !fanout.IsTerminal(err) {
				t.Errorf("%q: duplicate %v, terminal %v", e.Message, isDuplicate(err), fanout.IsTerminal(err))
			}
		}
		if isDuplicate(classify("op", http.Header{}, gqlErr("BAD_USER_INPUT"))) {
			t.Error("any BAD_USER_INPUT taken for a duplicate")
		}
	})
	t.Run("HintForBadKey", func(t *testing.T) {
		err := classify("op", http.Header{}, gqlErr("UNAUTHENTICATED"))
		if !strings.Contains(err.Error(), "API key") {
			t.Errorf("%v", err)
		}
	})
}

func TestBodyMessage(t *testing.T) {
	for body, want := range map[string]string{
		`{"errors":[{"message":"Token invalid.","extensions":{"code":"UNAUTHENTICATED"}}]}`: "UNAUTHENTICATED/Token invalid.",
		`{"statusCode":400,"messages":["x"],"message":"Bad Request"}`:                       "/Bad Request",
		`{"message":["a","b"]}`:        "/a; b",
		"<html>502 Bad Gateway</html>": "/<html>502 Bad Gateway</html>",
	} {
		code, msg := bodyMessage(body)
		if got := code + "/" + msg; got != want {
			t.Errorf("bodyMessage(%q) = %q, want %q", body, got, want)
		}
	}
}

// TestNoSecretInLogs runs a create that fails and checks that neither the
// error nor the log carries the API key.
func TestNoSecretInLogs(t *testing.T) {
	f := startFake(t)
	var logs bytes.Buffer
	const secret = "sk-very-secret-key"
	c, err := Open(Config{URL: f.URL}, secret, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.EnsureUser(t.Context(), user("leak"))
	if !fanout.IsTerminal(err) {
		t.Fatalf("a wrong key gave %v, want a terminal error", err)
	}
	var ae *apiError
	if !errors.As(err, &ae) || ae.code != codeUnauthenticated {
		t.Errorf("error %v, want UNAUTHENTICATED", err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
		t.Errorf("the key leaked: %v / %s", err, logs.String())
	}
}
