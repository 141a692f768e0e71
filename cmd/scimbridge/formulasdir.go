package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/fanout/admin"
	"github.com/scimbridge/scimbridge/formulas"
	"github.com/scimbridge/scimbridge/store"
)

// formulaDirActor is who the folder loader's writes are recorded as in
// the audit log.
const formulaDirActor store.Actor = "formulas-dir"

// isFormulaFile reports whether a folder entry's name is a formula file:
// *.yaml, *.yml or *.json, not hidden. Hidden names also keep out the
// "..data" links and "..2024_..." folders of a Kubernetes ConfigMap
// volume, whose visible files are links into them.
func isFormulaFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// formulaFiles lists the formula files of a folder (not its subfolders),
// by name. Links are followed.
func formulaFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !isFormulaFile(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
			continue // a dangling link, or a folder named like a file
		}
		out = append(out, path)
	}
	return out, nil
}

// readFormulaFile reads a formula file of at most admin.MaxFormulaBytes,
// the bound of the admin API.
func readFormulaFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, admin.MaxFormulaBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > admin.MaxFormulaBytes {
		return nil, fmt.Errorf("larger than %d bytes", admin.MaxFormulaBytes)
	}
	return b, nil
}

// formulaDir pushes the formula files of a folder into the store. Each
// Sync reads every file and pushes those whose content changed since
// the last Sync (formula files are small; a content hash sees every
// change, which modification times, truncated to the second or
// preserved by copies, do not). A file is not retried until its content
// changes, except after a store failure, so a bad file is logged once,
// not on every scan. Removing a file deletes nothing: bindings may use
// the stored versions.
type formulaDir struct {
	dir string
	st  store.FormulaStore
	log *slog.Logger

	mu   sync.Mutex
	seen map[string][sha256.Size]byte // path -> content handled last
}

func newFormulaDir(dir string, st store.FormulaStore, log *slog.Logger) *formulaDir {
	return &formulaDir{dir: dir, st: st, log: log, seen: map[string][sha256.Size]byte{}}
}

// syncReport lists the files of one Sync by outcome.
type syncReport struct {
	Created, Unchanged, Invalid, Conflicts, Failed []string
}

// Sync scans the folder once and pushes new and changed files. Its error
// is for the folder itself (unreadable); each file's outcome is logged
// and reported.
func (d *formulaDir) Sync(ctx context.Context) (syncReport, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var rep syncReport
	files, err := formulaFiles(d.dir)
	if err != nil {
		return rep, fmt.Errorf("formulas folder: %w", err)
	}
	present := map[string]bool{}
	for _, path := range files {
		present[path] = true
		src, err := readFormulaFile(path)
		if err != nil {
			d.log.Error("formula file cannot be read", "file", path, "err", err)
			rep.Failed = append(rep.Failed, path)
			continue
		}
		sum := sha256.Sum256(src)
		if prev, ok := d.seen[path]; ok && prev == sum {
			continue
		}
		f, created, err := admin.Push(ctx, d.st, formulaDirActor, src)
		var es formulas.Errors
		var ce *admin.ConflictError
		switch {
		case errors.As(err, &es):
			d.log.Error("formula file is invalid; skipped", "file", path, "problems", len(es))
			for _, e := range es {
				d.log.Error("formula problem", "file", path, "line", e.Line, "column", e.Column, "path", e.Path, "problem", e.Msg)
			}
			rep.Invalid = append(rep.Invalid, path)
		case errors.As(err, &ce):
			d.log.Error("formula file conflicts with a stored version; skipped", "file", path, "err", ce.Msg)
			rep.Conflicts = append(rep.Conflicts, path)
		case err != nil:
			d.log.Error("formula file could not be stored; will retry", "file", path, "err", err)
			rep.Failed = append(rep.Failed, path)
			continue // not seen: the next scan tries again
		case created:
			d.log.Info("formula loaded", "file", path, "formula", f.Metadata.Name, "version", f.Spec.Version)
			rep.Created = append(rep.Created, path)
		default:
			d.log.Debug("formula already stored", "file", path, "formula", f.Metadata.Name, "version", f.Spec.Version)
			rep.Unchanged = append(rep.Unchanged, path)
		}
		d.seen[path] = sum
	}
	for path := range d.seen {
		if !present[path] {
			delete(d.seen, path) // put back later, it is pushed again
		}
	}
	return rep, nil
}

// startFormulaDir loads the configured formula folder once, then scans
// it every Reload until ctx ends; stop waits for the scanning to end.
// A folder that cannot be read at start is an error; later it is
// logged and tried again.
func (m *Main) startFormulaDir(ctx context.Context) (stop func(), err error) {
	c := m.Config.Formulas
	if c.Dir == "" {
		return func() {}, nil
	}
	log := m.Logger.With("component", "formulas", "dir", c.Dir)
	d := newFormulaDir(c.Dir, m.store, log)
	rep, err := d.Sync(ctx)
	if err != nil {
		return nil, err
	}
	log.Info("formulas folder loaded", "created", len(rep.Created), "unchanged", len(rep.Unchanged),
		"invalid", len(rep.Invalid), "conflicts", len(rep.Conflicts), "failed", len(rep.Failed))
	if c.Reload <= 0 {
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(c.Reload)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := d.Sync(ctx); err != nil && ctx.Err() == nil {
					log.Error("formulas folder scan failed", "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}
