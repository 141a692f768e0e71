package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesLoad loads every example configuration with the real
// loader, so none goes stale when a setting changes.
func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("../../examples/config/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configurations found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, _, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--config", f}, envOf(nil))
			if err != nil {
				t.Fatal(err)
			}
			if g := cfg.Connectors.Gitea; g != nil && (g.URL == "" || g.AuthSourceID == 0 || g.Organization == "") {
				t.Fatalf("gitea example lacks a required field: %+v", g)
			}
		})
	}
	unit, err := os.ReadFile("../../examples/systemd/scimbridge.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "scimbridge serve --config") {
		t.Fatal("the systemd unit does not run serve with a config file")
	}
}
