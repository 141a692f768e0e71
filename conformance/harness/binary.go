package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// GiteaVersion is the Gitea release the harness runs.
const GiteaVersion = "v1.26.0"

const (
	modulePath     = "github.com/scimbridge/scimbridge"
	buildScript    = "conformance/harness/build-gitea.sh"
	buildTimeout   = 30 * time.Minute
	versionTimeout = 30 * time.Second
)

// inCI reports whether the tests run in CI, where a missing prerequisite
// must fail a test rather than skip it.
func inCI() bool { return os.Getenv("CI") == "true" }

// skipOrFail skips the test, or fails it in CI.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// repoRoot finds the repository root: the nearest folder above the working
// directory (a test's package folder) whose go.mod declares this module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module "+modulePath)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("harness: no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// giteaPaths are the cached binary and the file naming its static root.
func giteaPaths(root string) (bin, staticRootFile string) {
	dir := filepath.Join(root, ".cache", "gitea", GiteaVersion)
	return filepath.Join(dir, "gitea"), filepath.Join(dir, "static_root")
}

// checkGitea returns the binary and its static root when both are usable.
func checkGitea(root string) (bin, staticRoot string, err error) {
	bin, rootFile := giteaPaths(root)
	if _, err := os.Stat(bin); err != nil {
		return "", "", fmt.Errorf("harness: gitea binary: %w", err)
	}
	data, err := os.ReadFile(rootFile)
	if err != nil {
		return "", "", fmt.Errorf("harness: gitea static root: %w", err)
	}
	staticRoot = strings.TrimSpace(string(data))
	if _, err := os.Stat(filepath.Join(staticRoot, "templates")); err != nil {
		return "", "", fmt.Errorf("harness: gitea static root %s: %w", staticRoot, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
	defer cancel()
	out, err := command(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("harness: %s --version: %w: %s", bin, err, out)
	}
	return bin, staticRoot, nil
}

// GiteaBinary returns the path of the cached Gitea binary. When it is
// missing the test is skipped with a hint to run build-gitea.sh, or fails
// in CI; RequireGitea builds it instead.
func GiteaBinary(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, _, err := checkGitea(root)
	if err != nil {
		skipOrFail(t, "%v (run %s)", err, buildScript)
	}
	return bin
}

// buildMu keeps the tests of one package from building at the same time;
// the build script's own lock covers separate test binaries.
var buildMu sync.Mutex

// RequireGitea returns the path of the cached Gitea binary, building it
// first when it is missing (several minutes the first time, with progress
// in the test log). A failed build fails the test.
func RequireGitea(t testing.TB) string {
	t.Helper()
	bin, _ := requireGitea(t)
	return bin
}

func requireGitea(t testing.TB) (bin, staticRoot string) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if bin, staticRoot, err := checkGitea(root); err == nil {
		return bin, staticRoot
	}

	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, staticRoot, err := checkGitea(root); err == nil {
		return bin, staticRoot
	}
	t.Logf("harness: gitea %s is not built yet; running %s", GiteaVersion, buildScript)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := command(ctx, "bash", filepath.Join(root, buildScript))
	cmd.Dir = root
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("harness: %s: %v", buildScript, err)
	}
	scanner := bufio.NewScanner(out)
	for scanner.Scan() {
		t.Log(scanner.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("harness: %s: %v", buildScript, err)
	}
	bin, staticRoot, err = checkGitea(root)
	if err != nil {
		t.Fatalf("harness: after %s: %v", buildScript, err)
	}
	return bin, staticRoot
}

// command is exec.CommandContext with the child in a process group of its
// own: cancelling ctx kills the whole group (Gitea runs git, and the build
// runs the compiler), and the group dies with the test process.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// killGroup sends sig to the process group cmd leads.
func killGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// stopGroup stops a server started by command: sig to its process group
// (SIGTERM, or SIGINT for PostgreSQL's fast shutdown), SIGKILL after
// stopGrace, then SIGKILL again for children that outlived it (git under
// Gitea, backends under PostgreSQL). done is closed when the process has
// exited, with exitErr its status. It is an error when the process had
// exited on its own before, or outlived SIGKILL.
func stopGroup(name string, cmd *exec.Cmd, sig syscall.Signal, done <-chan struct{}, exitErr func() error) error {
	select {
	case <-done:
		return fmt.Errorf("%s had exited on its own: %v (its log tells why)", name, exitErr())
	default:
	}
	if err := killGroup(cmd, sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", name, err)
	}
	select {
	case <-done:
	case <-time.After(stopGrace):
		killGroup(cmd, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(stopGrace):
			return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", name, cmd.Process.Pid)
		}
	}
	killGroup(cmd, syscall.SIGKILL)
	return nil
}

// tailFile returns the last logTailLines lines of the file at path under
// a "--- label" heading, or "" when it is missing or blank.
func tailFile(path, label string) string {
	data, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return fmt.Sprintf("--- %s (last %d lines)\n%s\n", label, len(lines), strings.Join(lines, "\n"))
}

// pollReady asks url every 100ms until ready says the answer shows the
// server ready (or fails for good), the process exits (done closes;
// exitErr gives its status), or timeout passes. name is the server's, for
// the errors.
func pollReady(name, url string, timeout time.Duration, done <-chan struct{}, exitErr func() error, ready func(*http.Response) (bool, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			ok, err := ready(resp)
			resp.Body.Close()
			if ok || err != nil {
				return err
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited: %v", name, exitErr())
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within %v", name, timeout)
		case <-tick.C:
		}
	}
}
