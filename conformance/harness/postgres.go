package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	postgresStartTimeout = time.Minute
	postgresToolTimeout  = 2 * time.Minute
	// postgresUser is the cluster's superuser, and the system account the
	// cluster runs as when the tests run as root (PostgreSQL refuses to run
	// as root).
	postgresUser = "postgres"
)

// postgres is a throwaway PostgreSQL cluster on 127.0.0.1 with trust
// authentication, its data and socket in a temporary folder.
type postgres struct {
	bin  string // the folder of initdb, postgres, pg_isready, createdb
	dir  string // data in dir/data, socket in dir, log in dir/postgres.log
	port int
	cred *syscall.Credential // nil unless the tests run as root

	cmd  *exec.Cmd
	done chan struct{} // closed when postgres has exited
	err  error         // its exit status, once done is closed
	dbs  int           // databases created so far, for their names
}

// The cluster is shared by the Coder servers of one test process: it starts
// with the first and stops, its folder removed, when the last one is done.
var (
	pgMu    sync.Mutex
	pgUsers int
	pgLive  *postgres
)

// postgresBinDir finds the folder of PostgreSQL's server programs: Debian's
// /usr/lib/postgresql/<major>/bin (the newest major), else the folder of an
// initdb on PATH.
func postgresBinDir() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	major := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	slices.SortFunc(found, func(a, b string) int { return major(b) - major(a) })
	if len(found) > 0 {
		return filepath.Dir(found[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("harness: postgresql is not installed (no /usr/lib/postgresql/*/bin/initdb, no initdb on PATH)")
}

// acquirePostgres returns the running cluster, starting it when none runs,
// and releases it when t ends. A missing PostgreSQL skips the test, or
// fails it in CI.
func acquirePostgres(t testing.TB) *postgres {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		skipOrFail(t, "%v (run conformance/harness/prepare.sh)", err)
	}
	pgMu.Lock()
	defer pgMu.Unlock()
	if pgLive == nil {
		pg, err := startPostgres(bin)
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		pgLive = pg
	}
	pg := pgLive
	pgUsers++
	t.Cleanup(func() {
		pgMu.Lock()
		defer pgMu.Unlock()
		pgUsers--
		if pgUsers > 0 || pgLive != pg {
			return
		}
		pgLive = nil
		if err := pg.stop(); err != nil {
			t.Errorf("harness: stop postgresql: %v\n%s", err, pg.logTail())
		}
	})
	return pg
}

// startPostgres creates a cluster in a new temporary folder and starts it.
func startPostgres(bin string) (*postgres, error) {
	pg := &postgres{bin: bin, done: make(chan struct{})}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(postgresUser)
		if err != nil {
			return nil, fmt.Errorf("postgresql runs as the %q account, which is missing: %w", postgresUser, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "scimbridge-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgresql folder: %w", err)
	}
	pg.dir = dir
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if pg.cred != nil {
		if err := os.Chown(dir, int(pg.cred.Uid), int(pg.cred.Gid)); err != nil {
			return nil, fmt.Errorf("postgresql folder: %w", err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), postgresToolTimeout)
	defer cancel()
	// No fsync: the cluster is thrown away, and the tests must not wait
	// for the disk.
	if _, err := pg.tool(ctx, "initdb", "--pgdata", filepath.Join(dir, "data"),
		"--username", postgresUser, "--auth", "trust", "--encoding", "UTF8",
		"--locale", "C", "--no-sync"); err != nil {
		return nil, err
	}

	pg.port, err = freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("postgresql log: %w", err)
	}
	if pg.cred != nil {
		logFile.Chown(int(pg.cred.Uid), int(pg.cred.Gid))
	}
	// The server runs in the foreground as a child of this process (not
	// through pg_ctl, which would detach it), in a process group of its
	// own, and dies with the test process.
	pg.cmd = exec.Command(filepath.Join(bin, "postgres"),
		"-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(pg.port),
		"-k", dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=500",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
	)
	pg.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: pg.cred}
	pg.cmd.Dir = dir
	pg.cmd.Env = pg.env()
	pg.cmd.Stdout, pg.cmd.Stderr = logFile, logFile
	if err := pg.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start postgresql: %w", err)
	}
	go func() {
		pg.err = pg.cmd.Wait()
		logFile.Close()
		close(pg.done)
	}()
	if err := pg.waitReady(); err != nil {
		err = fmt.Errorf("start postgresql: %w\n%s", err, pg.logTail())
		pg.stop()
		return nil, err
	}
	ok = true
	return pg, nil
}

// env is the environment of PostgreSQL's programs: this process's, without
// PG* settings that would point them elsewhere.
func (pg *postgres) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+pg.dir, "LC_ALL=C")
}

// tool runs one of PostgreSQL's programs as the cluster's owner and returns
// its output.
func (pg *postgres) tool(ctx context.Context, name string, args ...string) (string, error) {
	cmd := command(ctx, filepath.Join(pg.bin, name), args...)
	cmd.SysProcAttr.Credential = pg.cred
	cmd.Dir = pg.dir
	cmd.Env = pg.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.Bytes())
	}
	return out.String(), nil
}

// waitReady polls pg_isready until the server accepts connections, it
// exits, or the start timeout passes.
func (pg *postgres) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), postgresStartTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := pg.tool(ctx, "pg_isready", "--quiet", "--host", pg.dir,
			"--port", strconv.Itoa(pg.port), "--username", postgresUser); err == nil {
			return nil
		}
		select {
		case <-pg.done:
			return fmt.Errorf("postgres exited: %v", pg.err)
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections within %v", postgresStartTimeout)
		case <-tick.C:
		}
	}
}

// createDatabase creates a new, empty database and returns its connection
// URL (TCP to 127.0.0.1, no TLS, no password).
func (pg *postgres) createDatabase(ctx context.Context, prefix string) (string, error) {
	pgMu.Lock()
	pg.dbs++
	name := fmt.Sprintf("%s_%d", prefix, pg.dbs)
	pgMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, postgresToolTimeout)
	defer cancel()
	if _, err := pg.tool(ctx, "createdb", "--host", pg.dir, "--port", strconv.Itoa(pg.port),
		"--username", postgresUser, "--encoding", "UTF8", name); err != nil {
		return "", err
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(postgresUser),
		Host:     "127.0.0.1:" + strconv.Itoa(pg.port),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String(), nil
}

// stop shuts the server down (SIGINT: PostgreSQL's fast shutdown, which
// disconnects clients; SIGKILL after a grace period) and removes its
// folder.
func (pg *postgres) stop() error {
	defer os.RemoveAll(pg.dir)
	if pg.cmd == nil || pg.cmd.Process == nil {
		return nil
	}
	return stopGroup("postgres", pg.cmd, syscall.SIGINT, pg.done, func() error { return pg.err })
}

// logTail returns the last lines of the server's log.
func (pg *postgres) logTail() string {
	return tailFile(filepath.Join(pg.dir, "postgres.log"), "postgres.log")
}
