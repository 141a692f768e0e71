package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/admin"
	"github.com/scimbridge/scimbridge/fanout/coder"
	"github.com/scimbridge/scimbridge/fanout/gitea"
	"github.com/scimbridge/scimbridge/fanout/mattermost"
	"github.com/scimbridge/scimbridge/fanout/twenty"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/bulk"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// dbFile is the bbolt file inside the data folder.
const dbFile = "scimbridge.db"

// Main is the running program: the store, the SCIM handler and the HTTP
// server. Tests start it on 127.0.0.1:0 with a temporary data folder.
type Main struct {
	Config Config
	Logger *slog.Logger
	// Stdout receives the one-time print of a generated token.
	Stdout io.Writer
	// Getenv reads the environment (os.Getenv in production).
	Getenv func(string) string

	store *bolt.Store
	srv   *http.Server
	ln    net.Listener
	ready atomic.Bool
	// rec is nil when no connector is configured.
	rec *fanout.Reconciler
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, pos, err := loadConfig(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	m := &Main{Config: cfg, Logger: newLogger(cfg.Log, stderr), Stdout: stdout, Getenv: getenv}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Open opens the store, loads or creates the SCIM token and binds the
// listen address. It returns quickly with a clear error when the data
// folder is locked by another process.
func (m *Main) Open(ctx context.Context) (err error) {
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	if m.Getenv == nil {
		m.Getenv = func(string) string { return "" }
	}
	if m.Stdout == nil {
		m.Stdout = io.Discard
	}
	if err := os.MkdirAll(m.Config.Data, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	path := filepath.Join(m.Config.Data, dbFile)
	st, err := bolt.Open(path, bolt.Options{Logger: m.Logger, Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("open %s (is another scimbridge using this data folder?): %w", path, err)
	}
	m.store = st
	defer func() {
		if err != nil {
			_ = m.Close() // release the file lock on a failed start
		}
	}()

	tokens, err := scimTokens(ctx, st, m.Config.SCIM, m.Getenv, m.Stdout, m.Logger)
	if err != nil {
		return err
	}
	h, err := scim.NewHandler(scim.Config{
		Store:        st,
		Auth:         tokens,
		BaseURL:      strings.TrimRight(m.Config.BaseURL, "/") + pathIfBase(m.Config.BaseURL),
		Logger:       m.Logger.With("component", "scim"),
		MaxBodyBytes: m.Config.SCIM.MaxBodyBytes,
		MaxResults:   m.Config.SCIM.MaxResults,
		Bulk: bulk.Config{
			MaxOperations:  m.Config.SCIM.BulkMaxOperations,
			MaxPayloadSize: m.Config.SCIM.BulkMaxPayloadBytes,
		},
		OnWrite: func() {
			if m.rec != nil {
				m.rec.Kick()
			}
		},
	})
	if err != nil {
		return err
	}
	conns, err := m.connectors(ctx)
	if err != nil {
		return err
	}
	var names []string
	if len(conns) > 0 {
		m.rec = fanout.New(st, conns, fanout.Options{
			Workers:        m.Config.Fanout.Workers,
			Rate:           m.Config.Fanout.Rate,
			ResyncInterval: m.Config.Fanout.ResyncInterval,
			MinBackoff:     m.Config.Fanout.MinBackoff,
			MaxBackoff:     m.Config.Fanout.MaxBackoff,
			Poll:           m.Config.Fanout.Poll,
			Logger:         m.Logger.With("component", "fanout"),
		})
		for _, c := range conns {
			names = append(names, c.Name())
		}
	}
	adminTokens, err := bootstrapTokens(ctx, st, adminTokenKind, m.Config.Admin.TokenFile, m.Getenv, m.Stdout, m.Logger)
	if err != nil {
		return err
	}
	hashes := make([][sha256.Size]byte, len(adminTokens))
	for i, t := range adminTokens {
		hashes[i] = t.Hash
	}
	var planner fanout.Planner // a nil *Reconciler must not become a non-nil Planner
	if m.rec != nil {
		planner = m.rec
	}
	ah, err := admin.NewHandler(admin.Config{Store: st, Reconciler: m.rec, Planner: planner, Connectors: names, TokenHashes: hashes, Logger: m.Logger.With("component", "admin")})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	mux.Handle("/scim/v2", h)
	mux.Handle("/admin/v1/", ah)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !m.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	m.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	m.ln = ln
	return nil
}

// connectors opens the configured connectors and checks each one's
// configuration and credentials against its service.
func (m *Main) connectors(ctx context.Context) ([]fanout.Connector, error) {
	cs, err := openConnectors(m.Config.Connectors, m.Getenv, m.Logger)
	if err != nil {
		return nil, err
	}
	var out []fanout.Connector
	for _, c := range cs {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = c.Check(cctx)
		cancel()
		if err != nil {
			// Not fatal: the service may be down now and up later; the
			// reconciler backs off and reports it in status.
			m.Logger.Warn("connector check failed; provisioning will retry", "connector", c.Name(), "err", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// openConnectors opens the configured connectors, in a fixed order,
// without a request to any service.
func openConnectors(cc ConnectorsConfig, getenv func(string) string, logger *slog.Logger) ([]checkedConnector, error) {
	var opens []func() (checkedConnector, error)
	if c := cc.Gitea; c != nil {
		opens = append(opens, opener(*c, gitea.LoadToken, gitea.Open, getenv, logger))
	}
	if c := cc.Coder; c != nil {
		opens = append(opens, opener(*c, coder.LoadToken, coder.Open, getenv, logger))
	}
	if c := cc.Mattermost; c != nil {
		opens = append(opens, opener(*c, mattermost.LoadToken, mattermost.Open, getenv, logger))
	}
	if c := cc.Twenty; c != nil {
		opens = append(opens, opener(*c, twenty.LoadToken, twenty.Open, getenv, logger))
	}
	var out []checkedConnector
	for _, open := range opens {
		c, err := open()
		if err != nil {
			// The packages' errors start with their name.
			return nil, fmt.Errorf("connectors: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// opener returns a function that loads a connector's token and opens it
// with cfg, the same way for every connector package.
func opener[Config any, C checkedConnector](cfg Config, load func(Config, func(string) string) (string, error),
	open func(Config, string, *slog.Logger) (C, error), getenv func(string) string, logger *slog.Logger) func() (checkedConnector, error) {
	return func() (checkedConnector, error) {
		token, err := load(cfg, getenv)
		if err != nil {
			return nil, err
		}
		c, err := open(cfg, token, logger)
		if err != nil {
			return nil, err // not a nil *Connector in a non-nil interface
		}
		return c, nil
	}
}

// checkedConnector is a connector that can test its configuration and
// credentials with one cheap request.
type checkedConnector interface {
	fanout.Connector
	Check(ctx context.Context) error
}

// pathIfBase appends the SCIM path to a configured base URL.
func pathIfBase(base string) string {
	if base == "" {
		return ""
	}
	return "/scim/v2"
}

// Addr is the bound listen address (useful with port 0).
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Run loads the formulas folder (when configured; it is rescanned while
// serving), serves until ctx is done, then stops accepting, lets
// in-flight requests finish (up to ShutdownTimeout) and returns.
func (m *Main) Run(ctx context.Context) error {
	stopFormulas, err := m.startFormulaDir(ctx)
	if err != nil {
		return err
	}
	defer stopFormulas()
	errc := make(chan error, 1)
	go func() { errc <- m.srv.Serve(m.ln) }()
	recCtx, stopRec := context.WithCancel(context.WithoutCancel(ctx))
	recDone := make(chan struct{})
	if m.rec != nil {
		go func() { defer close(recDone); _ = m.rec.Run(recCtx) }()
	} else {
		close(recDone)
	}
	// The reconciler stops after the HTTP server: in-flight SCIM writes
	// are on disk and queued either way; the queue survives restarts.
	defer func() { stopRec(); <-recDone }()
	m.ready.Store(true)
	m.Logger.Info("serving", "addr", m.Addr(), "scim", "http://"+m.Addr()+"/scim/v2")
	select {
	case err := <-errc:
		m.ready.Store(false)
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	m.ready.Store(false)
	m.Logger.Info("shutting down", "timeout", m.Config.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	if err := m.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close releases the listener and the store. Safe to call more than once.
func (m *Main) Close() error {
	var errs []error
	if m.ln != nil {
		if err := m.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if m.store != nil {
		if err := m.store.Close(); err != nil {
			errs = append(errs, err)
		}
		m.store = nil
	}
	return errors.Join(errs...)
}
