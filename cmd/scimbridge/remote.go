package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/conformance/load"
	"github.com/scimbridge/scimbridge/conformance/scimtest"
)

// remoteFlags are the flags of the commands that talk to a SCIM server
// over HTTP. The token may also come from SCIMBRIDGE_SCIM_TOKEN.
func remoteFlags(fs *flag.FlagSet) (url, token *string) {
	url = fs.String("url", "http://127.0.0.1:8080/scim/v2", "base URL of the SCIM server")
	token = fs.String("token", "", "bearer token (default: env SCIMBRIDGE_SCIM_TOKEN)")
	return url, token
}

func cmdConformance(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url, token := remoteFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if *token == "" {
		*token = getenv("SCIMBRIDGE_SCIM_TOKEN")
	}
	if *token == "" {
		return usageError{"--token (or SCIMBRIDGE_SCIM_TOKEN) is required"}
	}
	results := scimtest.RunAll(ctx, scimtest.Config{BaseURL: strings.TrimRight(*url, "/"), Token: *token}, stdout)
	var failed int
	for _, r := range results {
		if r.Err != nil && !r.Skipped() {
			failed++
		}
	}
	fmt.Fprintf(stdout, "\n%d checks, %d failed\n", len(results), failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(results))
	}
	return nil
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url, token := remoteFlags(fs)
	users := fs.Int("users", 10000, "users to create")
	conc := fs.Int("concurrency", 16, "concurrent clients")
	members := fs.Int("members", 0, "members to PATCH-add one by one into one group (default: --users)")
	dur := fs.Duration("duration", 0, "cap on each read phase (0: no cap)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if *token == "" {
		*token = getenv("SCIMBRIDGE_SCIM_TOKEN")
	}
	if *token == "" {
		return usageError{"--token (or SCIMBRIDGE_SCIM_TOKEN) is required"}
	}
	start := time.Now()
	phases, err := load.Run(ctx, load.Config{
		BaseURL:     strings.TrimRight(*url, "/"),
		Token:       *token,
		Users:       *users,
		Concurrency: *conc,
		Members:     *members,
		Duration:    *dur,
	}, stderr)
	load.PrintTable(stdout, phases)
	fmt.Fprintf(stdout, "total %s\n", time.Since(start).Round(time.Millisecond))
	return err
}
