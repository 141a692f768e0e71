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
			// Every connector in the example opens: its values pass the
			// connector's own checks (no request is made). The token
			// files do not exist here, so tokens come from the
			// environment instead.
			cc := cfg.Connectors
			if cc.Gitea != nil {
				cc.Gitea.TokenFile = ""
			}
			if cc.Coder != nil {
				cc.Coder.TokenFile = ""
			}
			if cc.Mattermost != nil {
				cc.Mattermost.TokenFile = ""
			}
			if cc.Twenty != nil {
				cc.Twenty.TokenFile = ""
			}
			conns, err := openConnectors(cc, envOf(map[string]string{
				"SCIMBRIDGE_GITEA_TOKEN": "t", "SCIMBRIDGE_CODER_TOKEN": "t", "SCIMBRIDGE_MATTERMOST_TOKEN": "t", "SCIMBRIDGE_TWENTY_TOKEN": "t",
			}), nil)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(f, "scimbridge.yaml") && len(conns) != 4 {
				t.Fatalf("the complete example opens %d connectors, want every one", len(conns))
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
