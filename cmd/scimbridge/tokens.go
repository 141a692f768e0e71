package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// tokensSetting is the store setting that holds the SCIM token hashes.
const tokensSetting = "scim.tokens"

// storedToken is a SCIM token as kept in the store: only its hash.
type storedToken struct {
	Name    string    `json:"name"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

func loadTokens(ctx context.Context, st store.Store) ([]storedToken, error) {
	b, err := st.GetSetting(ctx, tokensSetting)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ts []storedToken
	if err := json.Unmarshal(b, &ts); err != nil {
		return nil, fmt.Errorf("stored tokens are corrupt: %w", err)
	}
	return ts, nil
}

func saveTokens(ctx context.Context, st store.Store, ts []storedToken) error {
	b, err := json.Marshal(ts)
	if err != nil {
		return err
	}
	return st.PutSetting(ctx, tokensSetting, b)
}

// newToken returns a random token: 32 bytes, base64url, prefixed so that
// secret scanners and people recognise it.
func newToken(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func toAuth(ts []storedToken) (scim.Tokens, error) {
	out := make(scim.Tokens, 0, len(ts))
	for _, t := range ts {
		raw, err := hex.DecodeString(t.SHA256)
		if err != nil || len(raw) != len(scim.TokenHash{}) {
			return nil, fmt.Errorf("stored token %q has a malformed hash", t.Name)
		}
		var h scim.TokenHash
		copy(h[:], raw)
		out = append(out, scim.Token{Name: t.Name, Hash: h})
	}
	return out, nil
}

// tokenKind is one family of bearer tokens: the SCIM tokens identity
// providers use, or the admin tokens operators use.
type tokenKind struct {
	setting string // store setting holding the hashes
	prefix  string // of generated tokens, so people and scanners know them
	env     string // environment variable that sets a token
	label   string // for messages
	hint    string // printed with a generated token
}

var (
	scimTokenKind = tokenKind{setting: tokensSetting, prefix: "scimb_", env: "SCIMBRIDGE_SCIM_TOKEN", label: "SCIM",
		hint: "Give it to your identity provider as the SCIM secret token. Add more with\n\"scimbridge tokens create NAME\"."}
	adminTokenKind = tokenKind{setting: "admin.tokens", prefix: "scimbadm_", env: "SCIMBRIDGE_ADMIN_TOKEN", label: "admin",
		hint: "Use it for the admin API and \"scimbridge status\" (export SCIMBRIDGE_ADMIN_TOKEN=...)."}
)

// scimTokens decides which bearer tokens the SCIM endpoint accepts.
func scimTokens(ctx context.Context, st store.Store, c SCIMConfig, getenv func(string) string, stdout io.Writer, log *slog.Logger) (scim.Tokens, error) {
	return bootstrapTokens(ctx, st, scimTokenKind, c.TokenFile, getenv, stdout, log)
}

// bootstrapTokens returns the accepted tokens of one kind: the one from
// the environment or the token file when set, plus the ones stored in the
// data folder; with none of these, it generates one, stores its hash and
// prints it once.
func bootstrapTokens(ctx context.Context, st store.Store, kind tokenKind, tokenFile string, getenv func(string) string, stdout io.Writer, log *slog.Logger) (scim.Tokens, error) {
	b, err := st.GetSetting(ctx, kind.setting)
	var stored []storedToken
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &stored); err != nil {
			return nil, fmt.Errorf("stored %s tokens are corrupt: %w", kind.label, err)
		}
	}
	auth, err := toAuth(stored)
	if err != nil {
		return nil, err
	}
	explicit := getenv(kind.env)
	source := kind.env
	if explicit == "" && tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("%s token file: %w", kind.label, err)
		}
		explicit, source = strings.TrimSpace(string(b)), "token file"
		if explicit == "" {
			return nil, fmt.Errorf("%s token file %s is empty", kind.label, tokenFile)
		}
	}
	if explicit != "" {
		if len(explicit) < 16 {
			return nil, fmt.Errorf("the %s token from %s is too short: use at least 16 characters", kind.label, source)
		}
		log.Info("token configured", "kind", kind.label, "source", source)
		return append(auth, scim.Token{Name: "configured", Hash: scim.HashToken(explicit)}), nil
	}
	if len(auth) > 0 {
		log.Info("tokens loaded", "kind", kind.label, "count", len(auth))
		return auth, nil
	}
	tok := newToken(kind.prefix)
	h := scim.HashToken(tok)
	stored = append(stored, storedToken{Name: "default", SHA256: hex.EncodeToString(h[:]), Created: time.Now().UTC()})
	data, err := json.Marshal(stored)
	if err != nil {
		return nil, err
	}
	if err := st.PutSetting(ctx, kind.setting, data); err != nil {
		return nil, fmt.Errorf("store the new %s token: %w", kind.label, err)
	}
	fmt.Fprintf(stdout, "\nA%s %s bearer token was created. It is shown only this once; only its hash is stored.\n\n    %s\n\n%s\n\n",
		map[bool]string{true: "n", false: ""}[kind.label == "admin"], kind.label, tok, kind.hint)
	log.Info("token created", "kind", kind.label, "name", "default")
	return scim.Tokens{{Name: "default", Hash: h}}, nil
}

var tokenName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

// cmdTokens manages stored SCIM tokens. It opens the data folder, so the
// server must not be running on it.
func cmdTokens(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{"want create NAME, list, or revoke NAME"}
	}
	sub := args[0]
	fs := flag.NewFlagSet("tokens "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, pos, err := loadConfig(fs, args[1:], getenv)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := bolt.Open(filepath.Join(cfg.Data, dbFile), bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("open the data folder %s (is the server running on it? stop it first): %w", cfg.Data, err)
	}
	defer st.Close()
	ts, err := loadTokens(ctx, st)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\n", t.Name, t.Created.Format(time.RFC3339))
		}
		return tw.Flush()
	case "create":
		if len(pos) != 1 || !tokenName.MatchString(pos[0]) {
			return usageError{"create takes one NAME of letters, digits, '.', '_' or '-'"}
		}
		name := pos[0]
		for _, t := range ts {
			if t.Name == name {
				return fmt.Errorf("a token named %q exists; revoke it first", name)
			}
		}
		tok := newToken(scimTokenKind.prefix)
		h := scim.HashToken(tok)
		ts = append(ts, storedToken{Name: name, SHA256: hex.EncodeToString(h[:]), Created: time.Now().UTC()})
		if err := saveTokens(ctx, st, ts); err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok)
		fmt.Fprintf(stderr, "token %q created; it is shown only this once\n", name)
		return nil
	case "revoke":
		if len(pos) != 1 {
			return usageError{"revoke takes one NAME"}
		}
		kept := ts[:0]
		for _, t := range ts {
			if t.Name != pos[0] {
				kept = append(kept, t)
			}
		}
		if len(kept) == len(ts) {
			return fmt.Errorf("no token named %q", pos[0])
		}
		return saveTokens(ctx, st, kept)
	}
	return usageError{fmt.Sprintf("unknown tokens command %q: want create, list or revoke", sub)}
}
