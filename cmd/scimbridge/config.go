package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/scimbridge/scimbridge/fanout/coder"
	"github.com/scimbridge/scimbridge/fanout/gitea"
	"github.com/scimbridge/scimbridge/fanout/mattermost"
	"github.com/scimbridge/scimbridge/fanout/twenty"
)

// Config is scimbridge's configuration. Values come from, lowest
// precedence first: the defaults below, the YAML file named by --config
// (or SCIMBRIDGE_CONFIG), SCIMBRIDGE_* environment variables, and flags.
// Secrets (tokens) come only from the environment or from files, never
// from flags, so they do not show in `ps`.
type Config struct {
	// Data is the data folder; it holds scimbridge.db (bbolt).
	// Env SCIMBRIDGE_DATA, flag --data. Default "./data".
	Data string `yaml:"data"`
	// Addr is the listen address. Env SCIMBRIDGE_ADDR, flag --addr.
	// Default "127.0.0.1:8080".
	Addr string `yaml:"addr"`
	// BaseURL is the public URL of the server (for example
	// "https://bridge.example.com"), used for meta.location and member
	// $ref. Empty: derived from each request's Host header.
	// Env SCIMBRIDGE_BASE_URL, flag --base-url.
	BaseURL string `yaml:"baseURL"`
	// Log configures logging.
	Log LogConfig `yaml:"log"`
	// SCIM tunes the SCIM endpoint.
	SCIM SCIMConfig `yaml:"scim"`
	// Admin configures the admin API (/admin/v1) and its token.
	Admin AdminConfig `yaml:"admin"`
	// Fanout tunes the reconciler that provisions into the connectors.
	Fanout FanoutConfig `yaml:"fanout"`
	// Connectors configures the services to provision into. A connector
	// without configuration is off.
	Connectors ConnectorsConfig `yaml:"connectors"`
	// Formulas loads formulas from a folder at start and on change.
	Formulas FormulasConfig `yaml:"formulas"`
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// SIGTERM/SIGINT. Env SCIMBRIDGE_SHUTDOWN_TIMEOUT. Default 15s.
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
}

// LogConfig configures the process log (standard error).
type LogConfig struct {
	// Level is debug, info, warn or error. Env SCIMBRIDGE_LOG_LEVEL.
	// Default info.
	Level string `yaml:"level"`
	// Format is text or json. Env SCIMBRIDGE_LOG_FORMAT. Default text.
	Format string `yaml:"format"`
}

// SCIMConfig tunes the SCIM endpoint.
type SCIMConfig struct {
	// TokenFile names a file holding the SCIM bearer token (one line).
	// Env SCIMBRIDGE_SCIM_TOKEN_FILE. SCIMBRIDGE_SCIM_TOKEN (env only)
	// sets the token directly. When neither is set, the tokens stored in
	// the data folder are used, and on first start one is generated and
	// printed once.
	TokenFile string `yaml:"tokenFile"`
	// MaxBodyBytes bounds a request body (Bulk excepted). Default 1 MiB.
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// MaxResults caps the resources of one list response. Default 1000.
	MaxResults int `yaml:"maxResults"`
	// BulkMaxOperations caps the operations of one Bulk request.
	// Default 1000.
	BulkMaxOperations int `yaml:"bulkMaxOperations"`
	// BulkMaxPayloadBytes caps a Bulk request body. Default 4 MiB.
	BulkMaxPayloadBytes int64 `yaml:"bulkMaxPayloadBytes"`
}

// AdminConfig configures the admin API.
type AdminConfig struct {
	// TokenFile names a file holding the admin bearer token. Env
	// SCIMBRIDGE_ADMIN_TOKEN (env only) sets it directly. With neither,
	// one is generated on first start and printed once, like the SCIM
	// token.
	TokenFile string `yaml:"tokenFile"`
}

// FanoutConfig tunes the reconciler.
type FanoutConfig struct {
	// Workers is the number of concurrent reconciles per connector.
	// Default 4.
	Workers int `yaml:"workers"`
	// Rate caps reconciles per second per connector (0: no cap).
	Rate float64 `yaml:"rate"`
	// ResyncInterval is how often every user and group is checked again
	// to repair drift made by hand downstream. Default 1h; "-1s"
	// disables it.
	ResyncInterval time.Duration `yaml:"resyncInterval"`
	// MinBackoff is the first wait after a failed attempt; it doubles
	// with each further failure (with jitter). Default 1s.
	MinBackoff time.Duration `yaml:"minBackoff"`
	// MaxBackoff caps the wait between attempts on a failing key.
	// Default 5m.
	MaxBackoff time.Duration `yaml:"maxBackoff"`
	// Poll is how often the queues are read when no write wakes the
	// reconciler. Default 250ms.
	Poll time.Duration `yaml:"poll"`
}

// FormulasConfig loads formulas from a folder, as the admin API's
// POST /admin/v1/formulas would: every *.yaml, *.yml and *.json file in
// Dir (not its subfolders; names starting with '.' are skipped) is
// parsed and stored at start, then again whenever its content changes.
// An invalid file is logged with every problem and skipped; a file
// whose version is stored with another content is logged as an error
// (a stored version never changes: bump spec.version). Removing a file
// does not delete the stored formula, since bindings may use it; delete
// a version with the admin API.
type FormulasConfig struct {
	// Dir is the folder; empty (the default) loads none. It must exist
	// when set. Env SCIMBRIDGE_FORMULAS_DIR.
	Dir string `yaml:"dir"`
	// Reload is how often the folder is scanned for new and changed
	// files. Default 30s; 0 scans only at start.
	Reload time.Duration `yaml:"reload"`
}

// ConnectorsConfig holds one optional section per service.
type ConnectorsConfig struct {
	// Gitea provisions accounts linked to the OAuth2 auth source and
	// teams (see fanout/gitea). The admin token comes from
	// SCIMBRIDGE_GITEA_TOKEN or gitea.tokenFile.
	Gitea *gitea.Config `yaml:"gitea"`
	// Coder provisions OIDC accounts (Coder links the first login by
	// email), suspension, and optionally groups (Coder Premium); see
	// fanout/coder. The token comes from SCIMBRIDGE_CODER_TOKEN or
	// coder.tokenFile.
	Coder *coder.Config `yaml:"coder"`
	// Mattermost provisions accounts linked to Mattermost's single
	// sign-on, team membership and, optionally, one channel per group
	// (see fanout/mattermost). The token comes from
	// SCIMBRIDGE_MATTERMOST_TOKEN or mattermost.tokenFile.
	Mattermost *mattermost.Config `yaml:"mattermost"`
	// Twenty keeps one person per user in Twenty CRM, keyed by email,
	// and optionally one company per group (see fanout/twenty). The API
	// key comes from SCIMBRIDGE_TWENTY_TOKEN or twenty.tokenFile.
	Twenty *twenty.Config `yaml:"twenty"`
}

func defaultConfig() Config {
	return Config{
		Data:            "./data",
		Addr:            "127.0.0.1:8080",
		Log:             LogConfig{Level: "info", Format: "text"},
		Formulas:        FormulasConfig{Reload: 30 * time.Second},
		ShutdownTimeout: 15 * time.Second,
	}
}

// loadConfig builds the configuration for a command from its flag set
// (the caller may define more flags on it), args and the environment. It
// returns the positional arguments, which may stand before, between or
// after the flags.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, []string, error) {
	cfg := defaultConfig()
	configPath := getenv("SCIMBRIDGE_CONFIG")
	var flagData, flagAddr, flagBase, flagConfig string
	fs.StringVar(&flagConfig, "config", "", "YAML configuration file (env SCIMBRIDGE_CONFIG)")
	fs.StringVar(&flagData, "data", "", "data folder (env SCIMBRIDGE_DATA, default ./data)")
	fs.StringVar(&flagAddr, "addr", "", "listen address HOST:PORT (env SCIMBRIDGE_ADDR, default 127.0.0.1:8080)")
	fs.StringVar(&flagBase, "base-url", "", "public base URL of this server (env SCIMBRIDGE_BASE_URL)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return cfg, nil, err
	}
	if flagConfig != "" {
		configPath = flagConfig
	}
	if configPath != "" {
		b, err := os.ReadFile(configPath)
		if err != nil {
			return cfg, nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, nil, fmt.Errorf("config %s: %w", configPath, err)
		}
	}
	env := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	env("SCIMBRIDGE_DATA", &cfg.Data)
	env("SCIMBRIDGE_ADDR", &cfg.Addr)
	env("SCIMBRIDGE_BASE_URL", &cfg.BaseURL)
	env("SCIMBRIDGE_LOG_LEVEL", &cfg.Log.Level)
	env("SCIMBRIDGE_LOG_FORMAT", &cfg.Log.Format)
	env("SCIMBRIDGE_SCIM_TOKEN_FILE", &cfg.SCIM.TokenFile)
	env("SCIMBRIDGE_ADMIN_TOKEN_FILE", &cfg.Admin.TokenFile)
	env("SCIMBRIDGE_FORMULAS_DIR", &cfg.Formulas.Dir)
	if v := getenv("SCIMBRIDGE_SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, nil, fmt.Errorf("SCIMBRIDGE_SHUTDOWN_TIMEOUT: %w", err)
		}
		cfg.ShutdownTimeout = d
	}
	for name, dst := range map[string]*int64{
		"SCIMBRIDGE_SCIM_MAX_BODY_BYTES":         &cfg.SCIM.MaxBodyBytes,
		"SCIMBRIDGE_SCIM_BULK_MAX_PAYLOAD_BYTES": &cfg.SCIM.BulkMaxPayloadBytes,
	} {
		if v := getenv(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return cfg, nil, fmt.Errorf("%s: %w", name, err)
			}
			*dst = n
		}
	}
	if flagData != "" {
		cfg.Data = flagData
	}
	if flagAddr != "" {
		cfg.Addr = flagAddr
	}
	if flagBase != "" {
		cfg.BaseURL = flagBase
	}
	return cfg, pos, cfg.validate()
}

func (c Config) validate() error {
	if c.Data == "" {
		return errors.New("config: data folder is empty")
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log level %q: want debug, info, warn or error", c.Log.Level)
	}
	switch strings.ToLower(c.Log.Format) {
	case "text", "json":
	default:
		return fmt.Errorf("config: log format %q: want text or json", c.Log.Format)
	}
	if c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return fmt.Errorf("config: baseURL %q must start with http:// or https://", c.BaseURL)
	}
	if c.Formulas.Reload < 0 {
		return fmt.Errorf("config: formulas.reload %s is negative (0 scans only at start)", c.Formulas.Reload)
	}
	return nil
}

// parseInterspersed parses flags wherever they stand among positional
// arguments ("tokens create NAME --data DIR" as well as "--data DIR NAME").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
