package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// failingPuts is a FormulaStore whose next PutFormula calls fail, as a
// full disk would.
type failingPuts struct {
	store.FormulaStore
	fail int
}

func (f *failingPuts) PutFormula(ctx context.Context, actor store.Actor, fm *store.Formula) error {
	if f.fail > 0 {
		f.fail--
		return errors.New("disk full")
	}
	return f.FormulaStore.PutFormula(ctx, actor, fm)
}

func names(paths []string) []string {
	out := []string{}
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}

func TestFormulaDirSync(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "d.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ml.yaml"), cliFormula("1.0.0", "v1"))
	writeFile(t, filepath.Join(dir, "bad.yml"), cliBadFormula)
	writeFile(t, filepath.Join(dir, "notes.txt"), "not a formula")
	writeFile(t, filepath.Join(dir, ".hidden.yaml"), cliBadFormula)
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o700); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	fs := &failingPuts{FormulaStore: st}
	d := newFormulaDir(dir, fs, slog.New(slog.NewTextHandler(&logs, nil)))
	sync := func() syncReport {
		t.Helper()
		rep, err := d.Sync(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	t.Run("First", func(t *testing.T) {
		rep := sync()
		if !reflect.DeepEqual(names(rep.Created), []string{"ml.yaml"}) || !reflect.DeepEqual(names(rep.Invalid), []string{"bad.yml"}) ||
			len(rep.Unchanged)+len(rep.Conflicts)+len(rep.Failed) != 0 {
			t.Fatalf("%+v", rep)
		}
		f, err := st.GetFormula(t.Context(), "ml-research", "1.0.0")
		if err != nil || string(f.Source) != cliFormula("1.0.0", "v1") {
			t.Fatalf("stored %v %v", f, err)
		}
		// Every problem of the invalid file is logged with its line.
		for _, want := range []string{"line=4", "path=metadata.name", "line=6", "path=spec.version", "line=10", `problem="unknown key \"extra\"`} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %s:\n%s", want, logs.String())
			}
		}
		evs, _ := st.Events(t.Context(), 0, 100)
		if len(evs) == 0 || evs[len(evs)-1].Actor != formulaDirActor {
			t.Fatalf("events %+v", evs)
		}
	})
	t.Run("NothingChanged", func(t *testing.T) {
		logs.Reset()
		if rep := sync(); !reflect.DeepEqual(rep, syncReport{}) {
			t.Fatalf("%+v", rep)
		}
		if logs.Len() != 0 {
			t.Fatalf("an unchanged folder logged:\n%s", logs.String())
		}
	})
	t.Run("NewAndChangedFiles", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "ml2.json"), `{"apiVersion": "scimbridge.dev/v1", "kind": "Formula", "metadata": {"name": "crm"},
			"spec": {"version": "0.1.0", "resources": {"twenty": {"person": {}}}}}`)
		writeFile(t, filepath.Join(dir, "bad.yml"), cliFormula("2.0.0", "fixed"))
		rep := sync()
		if !reflect.DeepEqual(names(rep.Created), []string{"bad.yml", "ml2.json"}) || len(rep.Invalid) != 0 {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		logs.Reset()
		writeFile(t, filepath.Join(dir, "ml.yaml"), cliFormula("1.0.0", "edited without a new version"))
		rep := sync()
		if !reflect.DeepEqual(names(rep.Conflicts), []string{"ml.yaml"}) {
			t.Fatalf("%+v", rep)
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "version 1.0.0 of ml-research is stored with another source") {
			t.Fatalf("log:\n%s", logs.String())
		}
		if f, _ := st.GetFormula(t.Context(), "ml-research", "1.0.0"); string(f.Source) != cliFormula("1.0.0", "v1") {
			t.Fatal("the stored version changed")
		}
		if rep := sync(); !reflect.DeepEqual(rep, syncReport{}) {
			t.Fatalf("the conflict was reported again: %+v", rep)
		}
	})
	t.Run("RetryAfterStoreFailure", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "ml3.yaml"), cliFormula("3.0.0", "v3"))
		fs.fail = 1
		if rep := sync(); !reflect.DeepEqual(names(rep.Failed), []string{"ml3.yaml"}) {
			t.Fatalf("%+v", rep)
		}
		if rep := sync(); !reflect.DeepEqual(names(rep.Created), []string{"ml3.yaml"}) {
			t.Fatalf("not retried: %+v", rep)
		}
	})
	t.Run("RemovedFileKeepsFormula", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "ml3.yaml")); err != nil {
			t.Fatal(err)
		}
		sync()
		if _, err := st.GetFormula(t.Context(), "ml-research", "3.0.0"); err != nil {
			t.Fatalf("removing the file deleted the formula: %v", err)
		}
		// Put back, it is read again (and is stored already).
		writeFile(t, filepath.Join(dir, "ml3.yaml"), cliFormula("3.0.0", "v3"))
		if rep := sync(); !reflect.DeepEqual(names(rep.Unchanged), []string{"ml3.yaml"}) {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("ErrNoFolder", func(t *testing.T) {
		d := newFormulaDir(filepath.Join(dir, "missing"), st, slog.New(slog.DiscardHandler))
		if _, err := d.Sync(t.Context()); err == nil {
			t.Fatal("no error for a missing folder")
		}
	})
}

// TestServeLoadsFormulaDir starts the real program with a formulas
// folder: the formula is stored before the server is ready, and a file
// added later is picked up by the reload.
func TestServeLoadsFormulaDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ml.yaml"), cliFormula("1.0.0", "v1"))
	env := map[string]string{"SCIMBRIDGE_SCIM_TOKEN": "env-token-that-is-long-enough", "SCIMBRIDGE_ADMIN_TOKEN": cliAdminToken}
	cfg := defaultConfig()
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	cfg.Formulas = FormulasConfig{Dir: dir, Reload: 20 * time.Millisecond}
	m := &Main{Config: cfg, Getenv: envOf(env)}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitReady(t, "http://"+m.Addr())
	list := func() string {
		var out, errb bytes.Buffer
		if code := run(t.Context(), []string{"formulas", "list", "--url", "http://" + m.Addr()}, &out, &errb, envOf(env)); code != 0 {
			t.Fatalf("list: %d %s", code, errb.String())
		}
		return out.String()
	}
	if out := list(); !strings.Contains(out, "ml-research") {
		t.Fatalf("not loaded at start:\n%s", out)
	}
	writeFile(t, filepath.Join(dir, "ml2.yaml"), cliFormula("2.0.0", "v2"))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(list(), "1.0.0,2.0.0") {
		if time.Now().After(deadline) {
			t.Fatal("a new file was not loaded by the reload")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("ErrMissingFolder", func(t *testing.T) {
		cfg.Data, cfg.Formulas.Dir = t.TempDir(), filepath.Join(dir, "missing")
		m := &Main{Config: cfg, Getenv: envOf(env)}
		if err := m.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if err := m.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "formulas folder") {
			t.Fatalf("run: %v", err)
		}
	})
}

func TestFormulasConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, "formulas:\n  dir: /etc/scimbridge/formulas\n  reload: 5s\n")
	load := func(env map[string]string) (Config, error) {
		cfg, _, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--config", path}, envOf(env))
		return cfg, err
	}
	cfg, err := load(nil)
	if err != nil || cfg.Formulas != (FormulasConfig{Dir: "/etc/scimbridge/formulas", Reload: 5 * time.Second}) {
		t.Fatalf("%+v %v", cfg.Formulas, err)
	}
	cfg, err = load(map[string]string{"SCIMBRIDGE_FORMULAS_DIR": "/srv/formulas"})
	if err != nil || cfg.Formulas.Dir != "/srv/formulas" {
		t.Fatalf("%+v %v", cfg.Formulas, err)
	}
	if d := defaultConfig().Formulas; d != (FormulasConfig{Reload: 30 * time.Second}) {
		t.Fatalf("default %+v", d)
	}
	writeFile(t, path, "formulas:\n  reload: -1s\n")
	if _, err := load(nil); err == nil {
		t.Fatal("a negative reload was accepted")
	}
}
