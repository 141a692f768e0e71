package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimbridge/scimbridge/fanout/admin"
)

// adminClient calls a running server's admin API.
type adminClient struct {
	base, token string
	http        *http.Client
}

func adminFlags(fs *flag.FlagSet) (*string, *string) {
	u := fs.String("url", "http://127.0.0.1:8080", "base URL of the scimbridge server")
	t := fs.String("token", "", "admin token (default: env SCIMBRIDGE_ADMIN_TOKEN)")
	return u, t
}

func newAdminClient(u, token string, getenv func(string) string) (*adminClient, error) {
	if token == "" {
		token = getenv("SCIMBRIDGE_ADMIN_TOKEN")
	}
	if token == "" {
		return nil, usageError{"--token (or SCIMBRIDGE_ADMIN_TOKEN) is required: the admin token printed at first start"}
	}
	return &adminClient{base: strings.TrimRight(u, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

func (c *adminClient) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("is the server running at %s? %w", c.base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		return fmt.Errorf("%s %s: %s", method, path, e.Error)
	}
	return json.Unmarshal(body, out)
}

func since(t *time.Time) string {
	if t == nil {
		return "-"
	}
	d := time.Since(*t)
	if d < 0 {
		return "in " + (-d).Round(time.Second).String()
	}
	return d.Round(time.Second).String() + " ago"
}

// cmdStatus prints the provisioning status of every connector, or of one
// user with every connector.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, t := adminFlags(fs)
	group := fs.String("group", "", "show one group (id or displayName) instead of a user")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return usageError{err.Error()}
	}
	c, err := newAdminClient(*u, *t, getenv)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if *group != "" {
		if len(pos) > 0 {
			return usageError{"status takes a USER or --group GROUP, not both"}
		}
		var gs admin.GroupStatus
		if err := c.do(ctx, "GET", "/admin/v1/groups/"+url.PathEscape(*group), &gs); err != nil {
			return err
		}
		fmt.Fprintf(tw, "group %s (%s) members=%d\n\n", gs.DisplayName, gs.ID, gs.Members)
		printStatuses(tw, gs.Statuses, "group")
		return nil
	}
	if len(pos) == 1 {
		var us admin.UserStatus
		if err := c.do(ctx, "GET", "/admin/v1/users/"+url.PathEscape(pos[0]), &us); err != nil {
			return err
		}
		fmt.Fprintf(tw, "user %s (%s) active=%v groups=%s\n\n", us.UserName, us.ID, us.Active, strings.Join(us.Groups, ","))
		printStatuses(tw, us.Statuses, "user")
		return nil
	}
	if len(pos) > 1 {
		return usageError{"status takes at most one USER"}
	}
	var sum admin.Summary
	if err := c.do(ctx, "GET", "/admin/v1/status", &sum); err != nil {
		return err
	}
	if len(sum.Connectors) == 0 {
		fmt.Fprintln(tw, "no connectors are configured")
		return nil
	}
	fmt.Fprintln(tw, "CONNECTOR\tOK\tPENDING\tFAILED\tPARKED")
	for _, cs := range sum.Connectors {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", cs.Name, cs.Counts["ok"], cs.Counts["pending"], cs.Counts["failed"], cs.Counts["parked"])
	}
	for _, cs := range sum.Connectors {
		for _, p := range cs.Problems {
			fmt.Fprintf(tw, "\n%s\t%s\t%s\tattempts=%d\tnext %s\t%s", cs.Name, p.Key, p.State, p.Attempts, since(p.NextAttempt), p.LastError)
		}
	}
	fmt.Fprintln(tw)
	return nil
}

// printStatuses prints one key's status with every connector.
func printStatuses(w io.Writer, sts []admin.StatusView, what string) {
	fmt.Fprintln(w, "CONNECTOR\tSTATE\tATTEMPTS\tREMOTE ID\tLAST SUCCESS\tNEXT ATTEMPT\tLAST ERROR")
	for _, s := range sts {
		msg := s.LastError
		if s.Unapplied != "" {
			msg = strings.TrimSpace(msg + " not applied: " + s.Unapplied)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Connector, s.State, s.Attempts, s.RemoteID, since(s.LastSuccess), since(s.NextAttempt), msg)
	}
	if len(sts) == 0 {
		fmt.Fprintf(w, "(no connector has seen this %s yet)\n", what)
	}
}

// cmdRetry queues one user for an immediate attempt with every connector.
func cmdRetry(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("retry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, t := adminFlags(fs)
	group := fs.String("group", "", "retry one group (id or displayName) instead of a user")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return usageError{err.Error()}
	}
	if (*group == "") == (len(pos) != 1) || len(pos) > 1 {
		return usageError{"retry takes one USER (id or userName) or --group GROUP"}
	}
	c, err := newAdminClient(*u, *t, getenv)
	if err != nil {
		return err
	}
	var out map[string]string
	if *group != "" {
		if err := c.do(ctx, "POST", "/admin/v1/groups/"+url.PathEscape(*group)+"/retry", &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "group %s (%s) queued for retry\n", out["displayName"], out["id"])
		return nil
	}
	if err := c.do(ctx, "POST", "/admin/v1/users/"+url.PathEscape(pos[0])+"/retry", &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (%s) queued for retry\n", out["userName"], out["id"])
	return nil
}
