package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	cliTimeout          = 2 * time.Minute
	defaultStartTimeout = time.Minute
	stopGrace           = 10 * time.Second
	logTailLines        = 60
)

// GiteaOptions configures StartGitea. The zero value starts a Gitea with
// an admin and no auth source.
type GiteaOptions struct {
	// OIDC, when set, is added as an OAuth2 auth source of provider type
	// openidConnect, found through its discovery document, and Gitea's
	// callback is registered with it. It must be running.
	OIDC *OIDC
	// AuthSourceName names that auth source; the login starts at
	// /user/oauth2/{AuthSourceName}. Default "oidc". Letters, digits, '-'
	// and '_' only.
	AuthSourceName string
	// Scopes are what the auth source asks for besides "openid", which
	// Gitea always asks for. Default none.
	Scopes []string
	// SkipLocal2FA lets people sign in through the auth source without
	// Gitea's own second factor.
	SkipLocal2FA bool
	// AdminUser, AdminPassword and AdminEmail are the site admin's
	// credentials. Defaults "gitea-admin", a random password,
	// "gitea-admin@example.com".
	AdminUser     string
	AdminPassword string
	AdminEmail    string
	// Config adds or overrides app.ini settings: section name ("" is the
	// top of the file) to key to value.
	Config map[string]map[string]string
	// StartTimeout bounds each start of "gitea web" until it answers.
	// Default one minute.
	StartTimeout time.Duration
}

// Gitea is a Gitea server run from the cached binary, with its data in a
// temporary folder. Its methods are safe for concurrent use.
type Gitea struct {
	// URL is the server's base URL without a trailing slash, e.g.
	// "http://127.0.0.1:40124". ROOT_URL is URL + "/".
	URL string
	// Dir holds app.ini, the database, the repositories and the logs.
	Dir string
	// AdminUser, AdminPassword and AdminEmail are the site admin's
	// credentials; AdminToken is an access token of theirs with every
	// scope.
	AdminUser     string
	AdminPassword string
	AdminEmail    string
	AdminToken    string
	// AuthSourceID and AuthSourceName identify the OAuth2 auth source
	// (zero and empty without GiteaOptions.OIDC). AuthSourceID is the
	// source_id of a user who signs in through it.
	AuthSourceID   int64
	AuthSourceName string

	bin          string
	conf         string
	env          []string
	startTimeout time.Duration

	mu   sync.Mutex
	proc *giteaProcess
}

// giteaProcess is one run of "gitea web".
type giteaProcess struct {
	cmd     *exec.Cmd
	console *os.File
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, once done is closed
}

var (
	authSourceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	tokenRE          = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// StartGitea starts a Gitea server on a free port of 127.0.0.1 with a
// fresh SQLite database, a site admin and an admin access token, and,
// when opts.OIDC is set, an OAuth2 auth source for that provider. It
// returns once the server answers. The server is stopped when the test
// ends; if the test failed, the tail of Gitea's log is written to the
// test log. Under -short, outside CI, the test is skipped.
func StartGitea(t testing.TB, opts GiteaOptions) *Gitea {
	t.Helper()
	if testing.Short() && !inCI() {
		t.Skip("harness: starting gitea is skipped under -short")
	}
	bin, staticRoot := requireGitea(t)

	if opts.AuthSourceName == "" {
		opts.AuthSourceName = "oidc"
	}
	if !authSourceNameRE.MatchString(opts.AuthSourceName) {
		t.Fatalf("harness: auth source name %q: use letters, digits, '-' and '_'", opts.AuthSourceName)
	}
	if opts.AdminUser == "" {
		opts.AdminUser = "gitea-admin"
	}
	if opts.AdminPassword == "" {
		opts.AdminPassword = "Pw-" + rand.Text()
	}
	if opts.AdminEmail == "" {
		opts.AdminEmail = opts.AdminUser + "@example.com"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}

	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	g := &Gitea{
		URL:           "http://127.0.0.1:" + strconv.Itoa(port),
		Dir:           dir,
		AdminUser:     opts.AdminUser,
		AdminPassword: opts.AdminPassword,
		AdminEmail:    opts.AdminEmail,
		bin:           bin,
		conf:          filepath.Join(dir, "app.ini"),
		env:           giteaEnv(dir),
		startTimeout:  opts.StartTimeout,
	}
	ini, err := appINI(dir, staticRoot, port, opts.Config)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	if err := os.WriteFile(g.conf, ini, 0o600); err != nil {
		t.Fatalf("harness: write app.ini: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Stop(); err != nil {
			t.Errorf("harness: stop gitea: %v", err)
		}
		if t.Failed() {
			t.Logf("harness: gitea log tail:\n%s", g.LogTail())
		}
	})

	if err := g.setUp(opts); err != nil {
		t.Fatalf("harness: set up gitea: %v", err) // the cleanup logs the tail
	}
	if err := g.Start(); err != nil {
		t.Fatalf("harness: %v", err)
	}
	return g
}

// setUp prepares the database before the first start: the schema, the
// admin and their token, and the auth source. The auth source is added
// before the server starts because a running server registers only the
// sources it loaded at start (or that its web UI added).
func (g *Gitea) setUp(opts GiteaOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*cliTimeout)
	defer cancel()
	if _, err := g.cli(ctx, "migrate"); err != nil {
		return err
	}
	if _, err := g.cli(ctx, "admin", "user", "create", "--admin",
		"--username", g.AdminUser, "--password", g.AdminPassword, "--email", g.AdminEmail,
		"--must-change-password=false"); err != nil {
		return err
	}
	out, err := g.cli(ctx, "admin", "user", "generate-access-token",
		"--username", g.AdminUser, "--token-name", "harness", "--scopes", "all", "--raw")
	if err != nil {
		return err
	}
	// As root, Gitea prints a warning on standard output before the token.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	g.AdminToken = strings.TrimSpace(lines[len(lines)-1])
	if !tokenRE.MatchString(g.AdminToken) {
		return fmt.Errorf("no access token in the output of generate-access-token: %q", out)
	}

	if opts.OIDC == nil {
		return nil
	}
	args := []string{"admin", "auth", "add-oauth",
		"--name", opts.AuthSourceName,
		"--provider", "openidConnect",
		"--key", opts.OIDC.ClientID,
		"--secret", opts.OIDC.ClientSecret,
		"--auto-discover-url", opts.OIDC.DiscoveryURL(),
	}
	if len(opts.Scopes) > 0 {
		args = append(args, "--scopes", strings.Join(opts.Scopes, ","))
	}
	if opts.SkipLocal2FA {
		args = append(args, "--skip-local-2fa")
	}
	if _, err := g.cli(ctx, args...); err != nil {
		return err
	}
	out, err = g.cli(ctx, "admin", "auth", "list")
	if err != nil {
		return err
	}
	id, err := parseAuthSourceID(out, opts.AuthSourceName)
	if err != nil {
		return err
	}
	g.AuthSourceID = id
	g.AuthSourceName = opts.AuthSourceName
	opts.OIDC.RegisterRedirectURI(g.URL + "/user/oauth2/" + opts.AuthSourceName + "/callback")
	return nil
}

// parseAuthSourceID reads the id of the source called name from the table
// "gitea admin auth list" prints: ID, Name, Type, Enabled.
func parseAuthSourceID(table, name string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(table))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[1] == name {
			id, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("auth source %q: bad id %q", name, f[0])
			}
			return id, nil
		}
	}
	return 0, fmt.Errorf("auth source %q not in %q", name, table)
}

// cli runs one gitea command against this server's config and returns its
// standard output.
func (g *Gitea) cli(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	cmd := command(ctx, g.bin, append([]string{"--work-path", g.Dir, "--config", g.conf}, args...)...)
	cmd.Dir = g.Dir
	cmd.Env = g.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("gitea %s: %w\n%s%s", strings.Join(redact(args), " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String(), nil
}

// redact hides the values of secret flags in an error message.
func redact(args []string) []string {
	out := slices.Clone(args)
	for i := 1; i < len(out); i++ {
		switch out[i-1] {
		case "--password", "--secret":
			out[i] = "***"
		}
	}
	return out
}

// Start starts "gitea web" on the data it already has and waits until it
// answers; when it does not, LogTail tells why. It is a no-op while the
// server runs. With Stop it simulates an outage.
func (g *Gitea) Start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc != nil {
		select {
		case <-g.proc.done: // it died on its own: start it again
			g.proc = nil
		default:
			return nil
		}
	}
	console, err := os.OpenFile(filepath.Join(g.Dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start gitea: %w", err)
	}
	cmd := exec.Command(g.bin, "--work-path", g.Dir, "--config", g.conf, "web")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Dir = g.Dir
	cmd.Env = g.env
	cmd.Stdout, cmd.Stderr = console, console
	if err := cmd.Start(); err != nil {
		console.Close()
		return fmt.Errorf("start gitea: %w", err)
	}
	p := &giteaProcess{cmd: cmd, console: console, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		console.Close()
		close(p.done)
	}()
	g.proc = p

	if err := g.waitReady(p); err != nil {
		g.stopLocked()
		return fmt.Errorf("start gitea: %w (LogTail tells why)", err)
	}
	return nil
}

// waitReady polls /api/healthz until it answers 200, the process exits, or
// the start timeout passes.
func (g *Gitea) waitReady(p *giteaProcess) error {
	return pollReady("gitea web", g.URL+"/api/healthz", g.startTimeout, p.done, func() error { return p.err },
		func(resp *http.Response) (bool, error) { return resp.StatusCode == http.StatusOK, nil })
}

// Stop stops the server (SIGTERM to its process group, SIGKILL after a
// grace period) and waits for it to exit. Its data stays for Start. It is
// a no-op when the server was stopped already, and an error when it had
// exited by itself.
func (g *Gitea) Stop() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopLocked()
}

func (g *Gitea) stopLocked() error {
	p := g.proc
	if p == nil {
		return nil
	}
	g.proc = nil
	return stopGroup("gitea", p.cmd, syscall.SIGTERM, p.done, func() error { return p.err })
}

// LogTail returns the last lines of Gitea's log file and of its console
// output, for a failure message.
func (g *Gitea) LogTail() string {
	return tailFile(filepath.Join(g.Dir, "log", "gitea.log"), filepath.Join("log", "gitea.log")) +
		tailFile(filepath.Join(g.Dir, "console.log"), "console.log")
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. Another
// process could take it before Gitea binds it; the start then fails
// loudly rather than silently using the wrong server.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// giteaEnv is the environment of every gitea process: this process's,
// without variables that would point Gitea at other settings, and with
// HOME in the data folder so nothing reads or writes the real one.
func giteaEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GITEA_") || strings.HasPrefix(kv, "HOME=") ||
			strings.HasPrefix(kv, "GIT_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+filepath.Join(dir, "home"))
}

// appINI renders app.ini: loopback only, SQLite, no mail, no SSH, no
// network access of its own, secrets generated for this run, logs in
// dir/log, and every [oauth2_client] setting left at Gitea's default.
func appINI(dir, staticRoot string, port int, extra map[string]map[string]string) ([]byte, error) {
	me, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	secret := func(n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return hex.EncodeToString(b)
	}
	jwt := func() string {
		b := make([]byte, 32)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	root := map[string]string{
		"APP_NAME":  "Gitea",
		"RUN_MODE":  "prod",
		"RUN_USER":  me.Username,
		"WORK_PATH": dir,
	}
	if os.Geteuid() == 0 {
		root["I_AM_BEING_UNSAFE_RUNNING_AS_ROOT"] = "true"
	}
	sections := map[string]map[string]string{
		"": root,
		"server": {
			"PROTOCOL":             "http",
			"HTTP_ADDR":            "127.0.0.1",
			"HTTP_PORT":            strconv.Itoa(port),
			"DOMAIN":               "127.0.0.1",
			"ROOT_URL":             fmt.Sprintf("http://127.0.0.1:%d/", port),
			"APP_DATA_PATH":        filepath.Join(dir, "data"),
			"STATIC_ROOT_PATH":     staticRoot,
			"DISABLE_SSH":          "true",
			"START_SSH_SERVER":     "false",
			"OFFLINE_MODE":         "true",
			"LFS_START_SERVER":     "false",
			"GRACEFUL_HAMMER_TIME": "3s",
		},
		"database": {
			"DB_TYPE":             "sqlite3",
			"PATH":                filepath.Join(dir, "data", "gitea.db"),
			"SQLITE_JOURNAL_MODE": "WAL",
		},
		"repository": {"ROOT": filepath.Join(dir, "repositories")},
		"security": {
			"INSTALL_LOCK":   "true",
			"SECRET_KEY":     secret(32),
			"INTERNAL_TOKEN": secret(40),
		},
		"oauth2":              {"JWT_SECRET": jwt()},
		"mailer":              {"ENABLED": "false"},
		"service":             {"ENABLE_NOTIFY_MAIL": "false"},
		"actions":             {"ENABLED": "false"},
		"cron.update_checker": {"ENABLED": "false"},
		"log":                 {"MODE": "file", "LEVEL": "Info", "ROOT_PATH": filepath.Join(dir, "log")},
		"session":             {"PROVIDER": "memory"},
		"indexer":             {"ISSUE_INDEXER_TYPE": "db"},
		"other":               {"SHOW_FOOTER_VERSION": "true"},
	}
	for name, kv := range extra {
		if sections[name] == nil {
			sections[name] = map[string]string{}
		}
		for k, v := range kv {
			if strings.ContainsAny(k+v, "\n\r") {
				return nil, fmt.Errorf("app.ini [%s] %s: line break in key or value", name, k)
			}
			sections[name][k] = v
		}
	}

	var b bytes.Buffer
	names := slices.Sorted(maps.Keys(sections))
	for _, name := range names {
		if name != "" {
			fmt.Fprintf(&b, "\n[%s]\n", name)
		}
		keys := slices.Sorted(maps.Keys(sections[name]))
		for _, k := range keys {
			fmt.Fprintf(&b, "%s = %s\n", k, sections[name][k])
		}
	}
	return b.Bytes(), nil
}
