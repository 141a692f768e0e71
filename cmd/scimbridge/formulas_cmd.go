package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/admin"
	"github.com/scimbridge/scimbridge/formulas"
)

// apiError is an error answer of the admin API.
type apiError struct {
	status   int
	msg      string
	problems []admin.Problem
}

func (e *apiError) Error() string { return e.msg }

// statusOf is the HTTP status of an admin API error, 0 for another one.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	return 0
}

// call sends one request to the admin API with headers hdr (name, value
// pairs) and, when body is not nil, a body. out, when not nil, receives
// the JSON answer, or the raw answer when it is a *[]byte. An answer of
// 300 or more is an *apiError.
func (c *adminClient) call(ctx context.Context, method, path string, body []byte, out any, hdr ...string) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("is the server running at %s? %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e admin.ErrorBody
		_ = json.Unmarshal(raw, &e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		return resp.Header, &apiError{status: resp.StatusCode, msg: e.Error, problems: e.Problems}
	}
	switch o := out.(type) {
	case nil:
	case *[]byte:
		*o = raw
	default:
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// fileProblem renders a problem as FILE:LINE:COL: PATH: MESSAGE, leaving
// out what is unknown, the way compilers do, so editors can jump to it.
func fileProblem(file string, line, col int, path, msg string) string {
	var b strings.Builder
	b.WriteString(file)
	b.WriteString(":")
	if line > 0 {
		fmt.Fprintf(&b, "%d:", line)
		if col > 0 {
			fmt.Fprintf(&b, "%d:", col)
		}
	}
	b.WriteString(" ")
	if path != "" {
		b.WriteString(path)
		b.WriteString(": ")
	}
	b.WriteString(msg)
	return b.String()
}

// expandFormulaArgs turns FILE and DIR arguments into files: a folder
// gives its formula files, as the formulas folder loader reads them.
func expandFormulaArgs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil || !fi.IsDir() {
			out = append(out, a) // reading it says what is wrong
			continue
		}
		files, err := formulaFiles(a)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s holds no formula files (*.yaml, *.yml, *.json)", a)
		}
		out = append(out, files...)
	}
	return out, nil
}

const formulasUsage = `usage:
  scimbridge formulas validate FILE|DIR...     check formula files offline
  scimbridge formulas push FILE|DIR...         upload them to the server
  scimbridge formulas list                     list the stored formulas
  scimbridge formulas show NAME[@VERSION]      print the stored source (--summary: parameters and resources)
push, list and show take --url URL and --token TOKEN (default: env SCIMBRIDGE_ADMIN_TOKEN).`

// cmdFormulas runs "scimbridge formulas SUBCOMMAND".
func cmdFormulas(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError{"a subcommand is required\n" + formulasUsage}
	}
	switch args[0] {
	case "validate":
		return cmdFormulasValidate(args[1:], stdout, stderr)
	case "push":
		return cmdFormulasPush(ctx, args[1:], stdout, stderr, getenv)
	case "list":
		return cmdFormulasList(ctx, args[1:], stdout, stderr, getenv)
	case "show":
		return cmdFormulasShow(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, formulasUsage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown subcommand %q\n%s", args[0], formulasUsage)}
}

// flagsFor parses a subcommand's flags; help is true for -h.
func flagsFor(fs *flag.FlagSet, args []string) (pos []string, help bool, err error) {
	pos, err = parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, usageError{err.Error()}
	}
	return pos, false, nil
}

// cmdFormulasValidate checks formula files without a server: every
// problem of every file, and two files that give one version different
// contents.
func cmdFormulasValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("formulas validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pos, help, err := flagsFor(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"formulas validate takes FILE or DIR arguments"}
	}
	files, err := expandFormulaArgs(pos)
	if err != nil {
		return err
	}
	type seen struct {
		file string
		src  []byte
	}
	versions := map[string]seen{}
	bad := 0
	for _, file := range files {
		src, err := readFormulaFile(file)
		if err != nil {
			fmt.Fprintln(stdout, fileProblem(file, 0, 0, "", "cannot be read: "+err.Error()))
			bad++
			continue
		}
		f, err := formulas.Parse(src)
		if err != nil {
			var es formulas.Errors
			if !errors.As(err, &es) {
				es = formulas.Errors{{Msg: err.Error()}}
			}
			for _, e := range es {
				fmt.Fprintln(stdout, fileProblem(file, e.Line, e.Column, e.Path, e.Msg))
			}
			bad++
			continue
		}
		key := f.Metadata.Name + "@" + f.Spec.Version
		if prev, ok := versions[key]; ok && !bytes.Equal(prev.src, src) {
			fmt.Fprintln(stdout, fileProblem(file, 0, 0, "spec.version",
				fmt.Sprintf("%s %s is also in %s, with other content; a version is stored once, so bump one of them", f.Metadata.Name, f.Spec.Version, prev.file)))
			bad++
			continue
		}
		versions[key] = seen{file, src}
		fmt.Fprintf(stdout, "%s: ok (%s %s)\n", file, f.Metadata.Name, f.Spec.Version)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d files are invalid", bad, len(files))
	}
	return nil
}

// cmdFormulasPush uploads formula files; a version already stored with
// the same content is left as it is.
func cmdFormulasPush(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("formulas push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, t := adminFlags(fs)
	pos, help, err := flagsFor(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"formulas push takes FILE or DIR arguments"}
	}
	c, err := newAdminClient(*u, *t, getenv)
	if err != nil {
		return err
	}
	files, err := expandFormulaArgs(pos)
	if err != nil {
		return err
	}
	failed := 0
	for _, file := range files {
		src, err := readFormulaFile(file)
		if err != nil {
			fmt.Fprintln(stdout, fileProblem(file, 0, 0, "", "cannot be read: "+err.Error()))
			failed++
			continue
		}
		ct := "application/yaml"
		if strings.EqualFold(filepath.Ext(file), ".json") {
			ct = "application/json"
		}
		var res admin.PushResult
		_, err = c.call(ctx, "POST", "/admin/v1/formulas", src, &res, "Content-Type", ct)
		var ae *apiError
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "%s: %s %s %s\n", file, res.Result, res.Name, res.Version)
		case errors.As(err, &ae) && ae.status == http.StatusUnprocessableEntity:
			for _, p := range ae.problems {
				fmt.Fprintln(stdout, fileProblem(file, p.Line, p.Column, p.Path, p.Message))
			}
			failed++
		case errors.As(err, &ae) && (ae.status == http.StatusConflict || ae.status == http.StatusRequestEntityTooLarge):
			fmt.Fprintln(stdout, fileProblem(file, 0, 0, "", ae.msg))
			failed++
		default:
			return err // the server, not the file: the next file would fail alike
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files were not stored", failed, len(files))
	}
	return nil
}

// cmdFormulasList prints the stored formulas.
func cmdFormulasList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("formulas list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, t := adminFlags(fs)
	pos, help, err := flagsFor(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{"formulas list takes no arguments"}
	}
	c, err := newAdminClient(*u, *t, getenv)
	if err != nil {
		return err
	}
	var list admin.FormulaList
	if _, err := c.call(ctx, "GET", "/admin/v1/formulas", nil, &list); err != nil {
		return err
	}
	if len(list.Formulas) == 0 {
		fmt.Fprintln(stdout, "no formulas are stored")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLATEST\tVERSIONS\tTITLE")
	for _, f := range list.Formulas {
		vs := make([]string, len(f.Versions))
		for i, v := range f.Versions {
			vs[i] = v.Version
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Latest, strings.Join(vs, ","), f.Title)
	}
	return tw.Flush()
}

// formulaPath is the admin API path of NAME (latest) or NAME@VERSION.
func formulaPath(ref string) string {
	name, version, pinned := strings.Cut(ref, "@")
	if pinned && version != "" {
		return "/admin/v1/formulas/" + url.PathEscape(name) + "/versions/" + url.PathEscape(version)
	}
	return "/admin/v1/formulas/" + url.PathEscape(name)
}

// cmdFormulasShow prints one stored formula version: its source as
// uploaded, or with --summary what it asks for.
func cmdFormulasShow(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("formulas show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, t := adminFlags(fs)
	summary := fs.Bool("summary", false, "print the parameters and resources instead of the source")
	pos, help, err := flagsFor(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"formulas show takes one NAME or NAME@VERSION"}
	}
	c, err := newAdminClient(*u, *t, getenv)
	if err != nil {
		return err
	}
	if !*summary {
		var src []byte
		if _, err := c.call(ctx, "GET", formulaPath(pos[0])+"?format=source", nil, &src); err != nil {
			return err
		}
		if _, err := stdout.Write(src); err != nil {
			return err
		}
		if len(src) > 0 && src[len(src)-1] != '\n' {
			fmt.Fprintln(stdout)
		}
		return nil
	}
	var v admin.FormulaView
	if _, err := c.call(ctx, "GET", formulaPath(pos[0]), nil, &v); err != nil {
		return err
	}
	printFormulaSummary(stdout, &v)
	return nil
}

// printFormulaSummary writes what a formula version is and asks for.
func printFormulaSummary(w io.Writer, v *admin.FormulaView) {
	latest := ""
	if v.Latest {
		latest = "latest; "
	}
	fmt.Fprintf(w, "%s %s (%sversions: %s)\n", v.Name, v.Version, latest, strings.Join(v.Versions, ", "))
	f := v.Formula
	if f == nil {
		fmt.Fprintln(w, "the stored source does not parse:")
		for _, p := range v.Problems {
			fmt.Fprintln(w, "  "+fileProblem("source", p.Line, p.Column, p.Path, p.Message))
		}
		return
	}
	if f.Metadata.Title != "" {
		fmt.Fprintf(w, "title:       %s\n", f.Metadata.Title)
	}
	if f.Metadata.Description != "" {
		fmt.Fprintf(w, "description: %s\n", f.Metadata.Description)
	}
	if len(f.Metadata.Tags) > 0 {
		fmt.Fprintf(w, "tags:        %s\n", strings.Join(f.Metadata.Tags, ", "))
	}
	onRemove := f.Spec.OnRemove
	if onRemove == "" {
		onRemove = formulas.OnRemoveSuspend
	}
	fmt.Fprintf(w, "on removal:  %s\n", onRemove)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw)
	if len(f.Spec.Parameters) == 0 {
		fmt.Fprintln(tw, "no parameters")
	} else {
		fmt.Fprintln(tw, "PARAMETER\tTYPE\tDEFAULT\tALLOWED\tDESCRIPTION")
		names := make([]string, 0, len(f.Spec.Parameters))
		for n := range f.Spec.Parameters {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := f.Spec.Parameters[n]
			def := "(required)"
			if !p.Required {
				def = fmt.Sprint(p.Default)
			}
			var allowed []string
			for _, e := range p.Enum {
				allowed = append(allowed, fmt.Sprint(e))
			}
			if p.Minimum != nil || p.Maximum != nil {
				r := ""
				if p.Minimum != nil {
					r = fmt.Sprint(*p.Minimum)
				}
				r += ".."
				if p.Maximum != nil {
					r += fmt.Sprint(*p.Maximum)
				}
				allowed = append(allowed, r)
			}
			if p.Pattern != "" {
				allowed = append(allowed, "pattern "+p.Pattern)
			}
			desc := p.Title
			if p.Description != "" {
				desc = strings.TrimSpace(strings.TrimPrefix(desc+": "+p.Description, ": "))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n, p.Type, def, strings.Join(allowed, ", "), desc)
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SERVICE\tRESOURCE\tNAME\tDETAIL")
	r := f.Spec.Resources
	if g := r.Gitea; g != nil {
		for _, repo := range g.Repos {
			name, detail := repo.Name, []string{}
			if repo.Owner != "" {
				name = repo.Owner + "/" + repo.Name
			}
			if repo.Template != "" {
				detail = append(detail, "template "+repo.Template)
			}
			if repo.Permission != "" {
				detail = append(detail, "permission "+repo.Permission)
			}
			fmt.Fprintf(tw, "gitea\trepo\t%s\t%s\n", name, strings.Join(detail, ", "))
		}
		for _, team := range g.Teams {
			fmt.Fprintf(tw, "gitea\tteam\t%s/%s\t\n", team.Org, team.Team)
		}
	}
	if cd := r.Coder; cd != nil {
		for _, ws := range cd.Workspaces {
			detail := "template " + ws.Template
			if len(ws.Parameters) > 0 {
				keys := make([]string, 0, len(ws.Parameters))
				for k := range ws.Parameters {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				detail += ", parameters " + strings.Join(keys, ", ")
			}
			fmt.Fprintf(tw, "coder\tworkspace\t%s\t%s\n", ws.Name, detail)
		}
	}
	if m := r.Mattermost; m != nil {
		for _, ch := range m.Channels {
			detail := ""
			if ch.Private {
				detail = "private"
			}
			fmt.Fprintf(tw, "mattermost\tchannel\t%s/%s\t%s\n", ch.Team, ch.Name, detail)
		}
	}
	if tw2 := r.Twenty; tw2 != nil && tw2.Person != nil {
		var detail []string
		if tw2.Person.JobTitle != "" {
			detail = append(detail, "job title "+tw2.Person.JobTitle)
		}
		if tw2.Person.City != "" {
			detail = append(detail, "city "+tw2.Person.City)
		}
		fmt.Fprintf(tw, "twenty\tperson\t(the user)\t%s\n", strings.Join(detail, ", "))
	}
	_ = tw.Flush()
}

// setFlag collects repeated --set KEY=VALUE; a value may contain '='.
type setFlag map[string]string

func (s setFlag) String() string { return "" }

func (s setFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	if _, dup := s[k]; dup {
		return fmt.Errorf("%s is set twice", k)
	}
	s[k] = val
	return nil
}

// bindingTarget resolves GROUP with the server and reads its binding of
// formula: nil (and etag "") when there is none.
func bindingTarget(ctx context.Context, c *adminClient, groupRef, formula string) (*admin.GroupStatus, *admin.BindingView, string, error) {
	var g admin.GroupStatus
	if _, err := c.call(ctx, "GET", "/admin/v1/groups/"+url.PathEscape(groupRef), nil, &g); err != nil {
		if statusOf(err) == http.StatusNotFound {
			return nil, nil, "", fmt.Errorf("no group %s", groupRef)
		}
		return nil, nil, "", err
	}
	var b admin.BindingView
	hdr, err := c.call(ctx, "GET", bindingPath(g.ID, formula), nil, &b)
	if statusOf(err) == http.StatusNotFound {
		return &g, nil, "", nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	return &g, &b, hdr.Get("ETag"), nil
}

func bindingPath(groupID, formula string) string {
	return "/admin/v1/groups/" + url.PathEscape(groupID) + "/bindings/" + url.PathEscape(formula)
}

// showPlan asks the server to plan a binding change and prints it. With
// no connector configured there is nothing to plan, which is said, not
// an error.
func showPlan(ctx context.Context, c *adminClient, stdout io.Writer, req admin.PlanRequest) error {
	body, _ := json.Marshal(req)
	var p fanout.Plan
	_, err := c.call(ctx, "POST", "/admin/v1/plan", body, &p, "Content-Type", "application/json")
	var ae *apiError
	switch {
	case err == nil:
		printPlan(stdout, p)
		return nil
	case errors.As(err, &ae) && ae.status == http.StatusConflict:
		fmt.Fprintf(stdout, "nothing to plan (%s): the binding takes effect when a connector is\n", ae.msg)
		return nil
	case errors.As(err, &ae) && ae.status == http.StatusUnprocessableEntity:
		fmt.Fprintln(stdout, ae.msg+":")
		for _, p := range ae.problems {
			fmt.Fprintf(stdout, "  %s: %s\n", p.Path, p.Message)
		}
		return errors.New("nothing was changed")
	}
	return err
}

// printPlan writes a plan as a table: per user, per service, what would
// change; then the problems that would stop part of it.
func printPlan(w io.Writer, p fanout.Plan) {
	if len(p.Users) == 0 {
		fmt.Fprintln(w, "the group has no members: the change touches no one")
		return
	}
	counts := map[string]int{}
	var errs []string
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tSERVICE\tACTION\tKIND\tNAME\tDETAIL")
	for _, u := range p.Users {
		name := u.UserName
		if name == "" {
			name = u.UserID
		}
		if len(u.Changes) == 0 {
			fmt.Fprintf(tw, "%s\t-\tno changes\t\t\t\n", name)
		}
		for _, c := range u.Changes {
			counts[c.Action]++
			detail := c.Detail
			if c.Source != "" {
				detail = strings.TrimSpace(detail + " [" + c.Source + "]")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, c.Connector, c.Action, c.Kind, c.Name, detail)
		}
		for _, e := range u.Errors {
			errs = append(errs, name+": "+e)
		}
	}
	_ = tw.Flush()
	for _, e := range errs {
		fmt.Fprintln(w, "error: "+e)
	}
	fmt.Fprintf(w, "\nPlan for %d users: %d to create, %d to update, %d to remove, %d kept",
		len(p.Users), counts[fanout.ActionCreate], counts[fanout.ActionUpdate], counts[fanout.ActionRemove], counts[fanout.ActionKeep])
	switch len(errs) {
	case 0:
	case 1:
		fmt.Fprint(w, "; 1 error")
	default:
		fmt.Fprintf(w, "; %d errors", len(errs))
	}
	fmt.Fprintln(w)
}

// confirm asks "Apply? [y/N]" and reads the answer from stdin; no
// standard input is a no.
func confirm(stdin io.Reader, stdout io.Writer) error {
	fmt.Fprint(stdout, "Apply? [y/N] ")
	if stdin == nil {
		fmt.Fprintln(stdout)
		return errors.New("not applied: no answer (pass --yes to apply without asking)")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(stdout)
		return errors.New("not applied: no answer (pass --yes to apply without asking)")
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not applied")
}

func sameParams(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// cmdBind binds a formula to a group: it shows the plan of the change,
// asks, then writes the binding on the condition that it is still the
// one the plan was made from.
func cmdBind(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("bind", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, t := adminFlags(fs)
	set := setFlag{}
	fs.Var(set, "set", "a parameter value KEY=VALUE (repeat for several); the binding gets exactly these, the others take their defaults")
	yes := fs.Bool("yes", false, "apply without asking")
	pos, help, err := flagsFor(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError{"bind takes GROUP FORMULA[@VERSION] [--set KEY=VALUE]... [--yes]"}
	}
	formula, version, _ := strings.Cut(pos[1], "@")
	if formula == "" {
		return usageError{"bind: the formula name is empty"}
	}
	c, err := newAdminClient(*u, *t, getenv)
	if err != nil {
		return err
	}
	g, cur, etag, err := bindingTarget(ctx, c, pos[0], formula)
	if err != nil {
		return err
	}
	params := map[string]string(set)
	if cur != nil && cur.Version == version && sameParams(cur.Params, params) {
		fmt.Fprintf(stdout, "group %s is already bound to %s with these values; nothing to do\n", g.DisplayName, pos[1])
		return nil
	}
	if cur == nil {
		fmt.Fprintf(stdout, "Binding %s to group %s (%d members):\n\n", pos[1], g.DisplayName, g.Members)
	} else {
		fmt.Fprintf(stdout, "Changing the binding of %s to group %s (%d members):\n\n", formula, g.DisplayName, g.Members)
	}
	if err := showPlan(ctx, c, stdout, admin.PlanRequest{Group: g.ID, Formula: formula, Version: version, Params: params}); err != nil {
		return err
	}
	if !*yes {
		if err := confirm(stdin, stdout); err != nil {
			return err
		}
	}
	body, _ := json.Marshal(admin.BindingRequest{Version: version, Params: params})
	cond := []string{"Content-Type", "application/json", "If-None-Match", "*"}
	if cur != nil {
		cond = []string{"Content-Type", "application/json", "If-Match", etag}
	}
	var b admin.BindingView
	_, err = c.call(ctx, "PUT", bindingPath(g.ID, formula), body, &b, cond...)
	if statusOf(err) == http.StatusPreconditionFailed {
		return fmt.Errorf("the binding of %s to group %s changed after the plan was made (someone else changed it); nothing was applied: run bind again to see the new plan", formula, g.DisplayName)
	}
	if err != nil {
		return err
	}
	pin := b.Version
	if pin == "" {
		pin = "latest, now " + b.Resolved
	}
	if cur == nil {
		fmt.Fprintf(stdout, "bound %s (%s) to group %s\n", formula, pin, g.DisplayName)
	} else {
		fmt.Fprintf(stdout, "changed the binding of %s (%s) to group %s\n", formula, pin, g.DisplayName)
	}
	return nil
}

// cmdUnbind removes a binding the way cmdBind writes one: plan, ask,
// then delete on the condition that it did not change meanwhile.
func cmdUnbind(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("unbind", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, t := adminFlags(fs)
	yes := fs.Bool("yes", false, "apply without asking")
	pos, help, err := flagsFor(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError{"unbind takes GROUP FORMULA [--yes]"}
	}
	formula := pos[1]
	c, err := newAdminClient(*u, *t, getenv)
	if err != nil {
		return err
	}
	g, cur, etag, err := bindingTarget(ctx, c, pos[0], formula)
	if err != nil {
		return err
	}
	if cur == nil {
		return fmt.Errorf("group %s has no binding of formula %s", g.DisplayName, formula)
	}
	fmt.Fprintf(stdout, "Removing the binding of %s from group %s (%d members):\n\n", formula, g.DisplayName, g.Members)
	if err := showPlan(ctx, c, stdout, admin.PlanRequest{Group: g.ID, Formula: formula, Remove: true}); err != nil {
		return err
	}
	if !*yes {
		if err := confirm(stdin, stdout); err != nil {
			return err
		}
	}
	_, err = c.call(ctx, "DELETE", bindingPath(g.ID, formula), nil, nil, "If-Match", etag)
	if statusOf(err) == http.StatusPreconditionFailed {
		return fmt.Errorf("the binding of %s to group %s changed after the plan was made (someone else changed it); nothing was removed: run unbind again to see the new plan", formula, g.DisplayName)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed the binding of %s from group %s\n", formula, g.DisplayName)
	return nil
}
