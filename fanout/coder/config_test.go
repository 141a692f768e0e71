package coder_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/scimbridge/scimbridge/fanout/coder"
)

func TestOpen(t *testing.T) {
	valid := func() coder.Config { return coder.Config{URL: "https://coder.example.com"} }
	t.Run("OK", func(t *testing.T) {
		for _, u := range []string{"https://coder.example.com", "https://coder.example.com/", "http://127.0.0.1:3000"} {
			cfg := valid()
			cfg.URL = u
			c, err := coder.Open(cfg, "tok", nil)
			if err != nil {
				t.Fatalf("Open(%q): %v", u, err)
			}
			if c.Name() != "coder" {
				t.Errorf("name %q", c.Name())
			}
		}
	})
	bad := map[string]func(*coder.Config){
		"ErrNoURL":          func(c *coder.Config) { c.URL = "" },
		"ErrRelativeURL":    func(c *coder.Config) { c.URL = "coder.example.com" },
		"ErrScheme":         func(c *coder.Config) { c.URL = "ftp://coder.example.com" },
		"ErrURLQuery":       func(c *coder.Config) { c.URL = "https://coder.example.com/?x=1" },
		"ErrURLCredentials": func(c *coder.Config) { c.URL = "https://u:p@coder.example.com/" },
		"ErrURLPath":        func(c *coder.Config) { c.URL = "https://example.com/coder/" },
		"ErrOrganization":   func(c *coder.Config) { c.Organizations = []string{"coder", " "} },
		"ErrOrganizationID": func(c *coder.Config) { c.Organizations = []string{"a/b"} },
		"ErrOnDelete":       func(c *coder.Config) { c.OnDelete = "delete" },
		"ErrTimeout":        func(c *coder.Config) { c.Timeout = -time.Second },
		"ErrEmailFilter":    func(c *coder.Config) { c.EmailAttribute = `emails[type eq "work"].value` },
		"ErrEmailEmptyPart": func(c *coder.Config) { c.EmailAttribute = "name..formatted" },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			cfg := valid()
			mutate(&cfg)
			if _, err := coder.Open(cfg, "tok", nil); err == nil {
				t.Errorf("Open(%+v) succeeded", cfg)
			}
		})
	}
	t.Run("ErrNoToken", func(t *testing.T) {
		if _, err := coder.Open(valid(), " \n", nil); err == nil || !strings.Contains(err.Error(), coder.TokenEnv) {
			t.Errorf("Open without a token: %v", err)
		}
	})
	t.Run("SecretNotInErrors", func(t *testing.T) {
		cfg := valid()
		cfg.URL = "https://user:s3cret@coder.example.com"
		_, err := coder.Open(cfg, "tok", nil)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestLoadToken(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == coder.TokenEnv {
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
	for _, tc := range []struct {
		name, file, env, want string
		err                   bool
	}{
		{"Env", "", " from-env ", "from-env", false},
		{"File", file, "", "from-file", false},
		{"ErrBoth", file, "from-env", "", true},
		{"ErrNeither", "", "", "", true},
		{"ErrEmptyFile", empty, "", "", true},
		{"ErrMissingFile", filepath.Join(t.TempDir(), "nope"), "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := coder.LoadToken(coder.Config{TokenFile: tc.file}, env(tc.env))
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("LoadToken = %q, %v; want %q, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestConfigYAML decodes the configuration shown in the package
// documentation.
func TestConfigYAML(t *testing.T) {
	const doc = `
url: https://coder.example.com
organizations: [coder, eng]
emailAttribute: userName
groups: true
onDelete: suspend
timeout: 20s
tokenFile: /run/secrets/coder-token
`
	var cfg coder.Config
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	want := coder.Config{URL: "https://coder.example.com", Organizations: []string{"coder", "eng"}, EmailAttribute: "userName",
		Groups: true, OnDelete: "suspend", Timeout: 20 * time.Second, TokenFile: "/run/secrets/coder-token"}
	if cfg.URL != want.URL || strings.Join(cfg.Organizations, ",") != "coder,eng" || cfg.EmailAttribute != want.EmailAttribute ||
		cfg.Groups != want.Groups || cfg.OnDelete != want.OnDelete || cfg.Timeout != want.Timeout || cfg.TokenFile != want.TokenFile {
		t.Errorf("decoded %+v, want %+v", cfg, want)
	}
	if _, err := coder.Open(cfg, "tok", nil); err != nil {
		t.Errorf("Open of the documented configuration: %v", err)
	}
}
