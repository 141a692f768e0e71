package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// startMain runs the real program on 127.0.0.1:0 with data in dir.
func startMain(t *testing.T, dir string, env map[string]string) (*Main, *syncBuffer, func()) {
	t.Helper()
	out := &syncBuffer{}
	cfg := defaultConfig()
	cfg.Data, cfg.Addr = dir, "127.0.0.1:0"
	m := &Main{Config: cfg, Stdout: out, Getenv: envOf(env)}
	ctx, cancel := context.WithCancel(t.Context())
	if err := m.Open(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitReady(t, "http://"+m.Addr())
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	return m, out, stop
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("server not ready")
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

var tokenLine = regexp.MustCompile(`(?m)^\s+(scimb_[A-Za-z0-9_-]{43})$`)

func TestFirstStartCreatesTokenPrintedOnce(t *testing.T) {
	dir := t.TempDir()
	m, out, stop := startMain(t, dir, nil)
	match := tokenLine.FindStringSubmatch(out.String())
	if match == nil {
		t.Fatalf("no token printed; output:\n%s", out.String())
	}
	token := match[1]
	base := "http://" + m.Addr()
	if code := get(t, base+"/scim/v2/Users", token); code != 200 {
		t.Fatalf("with the printed token: %d", code)
	}
	if code := get(t, base+"/scim/v2/Users", "scimb_wrong"); code != 401 {
		t.Fatalf("with a wrong token: %d", code)
	}
	stop()

	// Only the hash is stored.
	raw, err := os.ReadFile(filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(token)) {
		t.Fatal("the token is stored in clear")
	}

	// Second start: no new token, the old one still works.
	m2, out2, stop2 := startMain(t, dir, nil)
	defer stop2()
	if strings.Contains(out2.String(), "scimb_") {
		t.Fatalf("a token was printed again:\n%s", out2.String())
	}
	if code := get(t, "http://"+m2.Addr()+"/scim/v2/Users", token); code != 200 {
		t.Fatalf("after restart: %d", code)
	}
}

func TestEnvTokenReplacesGeneration(t *testing.T) {
	tok := "env-token-that-is-long-enough"
	m, out, stop := startMain(t, t.TempDir(), map[string]string{"SCIMBRIDGE_SCIM_TOKEN": tok})
	defer stop()
	if strings.Contains(out.String(), "scimb_") {
		t.Fatal("a token was generated although SCIMBRIDGE_SCIM_TOKEN is set")
	}
	if code := get(t, "http://"+m.Addr()+"/scim/v2/ServiceProviderConfig", tok); code != 200 {
		t.Fatalf("status %d", code)
	}
}

func TestHealthAndReady(t *testing.T) {
	m, _, stop := startMain(t, t.TempDir(), map[string]string{"SCIMBRIDGE_SCIM_TOKEN": "env-token-that-is-long-enough"})
	base := "http://" + m.Addr()
	if code := get(t, base+"/healthz", ""); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code := get(t, base+"/readyz", ""); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	stop()
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	tok := "env-token-that-is-long-enough"
	m, _, stop := startMain(t, t.TempDir(), map[string]string{"SCIMBRIDGE_SCIM_TOKEN": tok})
	base := "http://" + m.Addr()
	// A slow upload: the request is in flight when shutdown starts.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", base+"/scim/v2/Users", pr)
	req.Header.Set("Authorization", "Bearer "+tok)
	res := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- -1
			return
		}
		resp.Body.Close()
		res <- resp.StatusCode
	}()
	io.WriteString(pw, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],`)
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(100 * time.Millisecond)
	io.WriteString(pw, `"userName":"inflight"}`)
	pw.Close()
	if code := <-res; code != 201 {
		t.Fatalf("in-flight request got %d, want 201", code)
	}
	<-stopped
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	os.WriteFile(file, []byte("data: /from/yaml\naddr: 127.0.0.1:1111\nbaseURL: https://yaml.example\nlog:\n  level: debug\n"), 0o600)
	env := envOf(map[string]string{"SCIMBRIDGE_CONFIG": file, "SCIMBRIDGE_ADDR": "127.0.0.1:2222"})
	cfg, _, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--data", "/from/flag"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Data != "/from/flag" || cfg.Addr != "127.0.0.1:2222" || cfg.BaseURL != "https://yaml.example" || cfg.Log.Level != "debug" {
		t.Fatalf("config %+v", cfg)
	}
	t.Run("ErrUnknownField", func(t *testing.T) {
		os.WriteFile(file, []byte("dta: typo\n"), 0o600)
		if _, _, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env); err == nil || !strings.Contains(err.Error(), "dta") {
			t.Fatalf("err = %v, want one naming the unknown field", err)
		}
	})
	t.Run("ErrBadLevel", func(t *testing.T) {
		os.WriteFile(file, []byte("log: {level: loud}\n"), 0o600)
		if _, _, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, env); err == nil {
			t.Fatal("no error for an unknown log level")
		}
	})
}

func TestTokensCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	env := envOf(nil)
	if code := run(t.Context(), []string{"tokens", "create", "entra", "--data", dir}, &out, &errb, env); code != 0 {
		t.Fatalf("create: %d %s", code, errb.String())
	}
	tok := strings.TrimSpace(out.String())
	if !strings.HasPrefix(tok, "scimb_") {
		t.Fatalf("token %q", tok)
	}
	out.Reset()
	if code := run(t.Context(), []string{"tokens", "list", "--data", dir}, &out, &errb, env); code != 0 || !strings.Contains(out.String(), "entra") {
		t.Fatalf("list: %d %q", code, out.String())
	}
	// The server accepts it, and does not generate another.
	m, printed, stop := startMain(t, dir, nil)
	if strings.Contains(printed.String(), "scimb_") {
		t.Fatal("a token was generated although one is stored")
	}
	if code := get(t, "http://"+m.Addr()+"/scim/v2/Users", tok); code != 200 {
		t.Fatalf("status %d", code)
	}
	stop()
	if code := run(t.Context(), []string{"tokens", "revoke", "entra", "--data", dir}, &out, &errb, env); code != 0 {
		t.Fatalf("revoke: %d", code)
	}
	if code := run(t.Context(), []string{"tokens", "revoke", "entra", "--data", dir}, &out, &errb, env); code != 1 {
		t.Fatalf("second revoke: %d, want 1", code)
	}
	if code := run(t.Context(), []string{"nonsense"}, &out, &errb, env); code != 2 {
		t.Fatalf("unknown command: %d, want 2", code)
	}
}

func TestStatusAndRetryCommands(t *testing.T) {
	env := map[string]string{"SCIMBRIDGE_SCIM_TOKEN": "env-token-that-is-long-enough", "SCIMBRIDGE_ADMIN_TOKEN": "admin-token-long-enough"}
	m, printed, stop := startMain(t, t.TempDir(), env)
	defer stop()
	if strings.Contains(printed.String(), "scimbadm_") {
		t.Fatal("an admin token was generated although SCIMBRIDGE_ADMIN_TOKEN is set")
	}
	base := "http://" + m.Addr()
	req, _ := http.NewRequest("POST", base+"/scim/v2/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice"}`))
	req.Header.Set("Authorization", "Bearer "+env["SCIMBRIDGE_SCIM_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	var out, errb bytes.Buffer
	getenv := envOf(env)
	if code := run(t.Context(), []string{"status", "--url", base}, &out, &errb, getenv); code != 0 || !strings.Contains(out.String(), "no connectors") {
		t.Fatalf("status: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"status", "alice", "--url", base}, &out, &errb, getenv); code != 0 || !strings.Contains(out.String(), "user alice") {
		t.Fatalf("status alice: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"retry", "alice", "--url", base}, &out, &errb, getenv); code != 0 || !strings.Contains(out.String(), "queued") {
		t.Fatalf("retry: %d %q %q", code, out.String(), errb.String())
	}
	errb.Reset()
	if code := run(t.Context(), []string{"status", "--url", base, "--token", "wrong-wrong-wrong-wrong"}, &out, &errb, getenv); code != 1 || !strings.Contains(errb.String(), "admin bearer token") {
		t.Fatalf("status with a wrong token: %d %q", code, errb.String())
	}
	if code := run(t.Context(), []string{"retry", "nobody", "--url", base}, &out, &errb, getenv); code != 1 {
		t.Fatalf("retry nobody: %d", code)
	}
}
