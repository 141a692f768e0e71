// Command scimbridge receives users and groups from an identity provider
// over SCIM 2.0, stores them durably, and provisions them into the
// services the company signs in to.
//
// Usage:
//
//	scimbridge serve [--data DIR] [--addr HOST:PORT] [--config FILE]
//	scimbridge tokens create|list|revoke [NAME] [--data DIR]
//	scimbridge status [USER | --group GROUP] [--url URL]   (admin token in SCIMBRIDGE_ADMIN_TOKEN)
//	scimbridge retry USER | --group GROUP [--url URL]
//	scimbridge formulas validate FILE|DIR...                (offline)
//	scimbridge formulas push FILE|DIR... | list | show NAME[@VERSION] [--summary] [--url URL]
//	scimbridge plan --user USER [--join GROUP | --leave GROUP] | --group GROUP [--url URL]
//	scimbridge bind GROUP FORMULA[@VERSION] [--set KEY=VALUE]... [--yes] [--url URL]
//	scimbridge unbind GROUP FORMULA [--yes] [--url URL]
//	scimbridge conformance --url URL --token TOKEN
//	scimbridge bench --url URL --token TOKEN [--users N] [--concurrency N]
//	scimbridge version
//
// bind and unbind print the plan of the change (what each member would
// get or lose in each service), ask before applying it unless --yes is
// given, and apply it only if the binding did not change meanwhile.
//
// This package is wiring only: configuration, logging, the HTTP router,
// signals and the command line.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runWithInput(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `scimbridge: SCIM 2.0 in, OIDC-linked accounts out.

Commands:
  serve        run the service (default: ./data, 127.0.0.1:8080, SCIM at /scim/v2)
  tokens       create, list or revoke SCIM bearer tokens (server stopped)
  status       provisioning status of every connector, or of one USER or --group
  retry        retry one USER (or --group) now with every connector
  formulas     validate formula files offline; push, list or show stored ones
  plan         what reconciling a --user or a --group would do, touching nothing
  bind         bind a formula to a group: show the plan, ask, apply
  unbind       remove a binding: show the plan, ask, apply
  conformance  run the SCIM RFC 7643/7644 suite against any SCIM server
  bench        drive a SCIM server's HTTP API and print ops/s, p50 and p99
  version      print the version

Run "scimbridge COMMAND -h" for a command's flags.
`

// run executes one command without standard input (a question gets no
// answer, so bind and unbind apply only with --yes) and returns the
// process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runWithInput(ctx, args, nil, stdout, stderr, getenv)
}

// runWithInput executes one command and returns the process exit code:
// 0 success, 1 failure, 2 usage error. stdin answers questions; nil is
// no answer.
func runWithInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr, getenv)
	case "tokens":
		err = cmdTokens(ctx, args[1:], stdout, stderr, getenv)
	case "status":
		err = cmdStatus(ctx, args[1:], stdout, stderr, getenv)
	case "retry":
		err = cmdRetry(ctx, args[1:], stdout, stderr, getenv)
	case "formulas":
		err = cmdFormulas(ctx, args[1:], stdout, stderr, getenv)
	case "plan":
		err = cmdPlan(ctx, args[1:], stdout, stderr, getenv)
	case "bind":
		err = cmdBind(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "unbind":
		err = cmdUnbind(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "conformance":
		err = cmdConformance(ctx, args[1:], stdout, stderr, getenv)
	case "bench":
		err = cmdBench(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version":
		fmt.Fprintln(stdout, "scimbridge", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "scimbridge: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if ue, ok := err.(usageError); ok {
			fmt.Fprintf(stderr, "scimbridge %s: %s\n", args[0], ue.msg)
			return 2
		}
		fmt.Fprintf(stderr, "scimbridge %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
