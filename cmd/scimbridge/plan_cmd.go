package main

import (
	"context"
	"flag"
	"io"
	"net/url"

	"github.com/scimbridge/scimbridge/fanout"
)

// cmdPlan prints what reconciling a user, or every member of a group,
// would do in each service, touching nothing: now, or once the user
// joined or left a group.
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, t := adminFlags(fs)
	user := fs.String("user", "", "plan one user (id or userName)")
	group := fs.String("group", "", "plan every member of a group (id or displayName)")
	join := fs.String("join", "", "with --user: plan as if the user joined this group")
	leave := fs.String("leave", "", "with --user: plan as if the user left this group")
	pos, help, err := flagsFor(fs, args)
	if help || err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageError{"plan takes no arguments: use --user USER or --group GROUP"}
	case (*user == "") == (*group == ""):
		return usageError{"plan needs one of --user USER or --group GROUP"}
	case (*join != "" || *leave != "") && *user == "":
		return usageError{"--join and --leave go with --user"}
	case *join != "" && *leave != "":
		return usageError{"give --join or --leave, not both"}
	}
	c, err := newAdminClient(*u, *t, getenv)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *user != "" {
		q.Set("user", *user)
	} else {
		q.Set("group", *group)
	}
	if *join != "" {
		q.Set("join", *join)
	}
	if *leave != "" {
		q.Set("leave", *leave)
	}
	var p fanout.Plan
	if err := c.do(ctx, "GET", "/admin/v1/plan?"+q.Encode(), &p); err != nil {
		return err
	}
	printPlan(stdout, p)
	return nil
}
