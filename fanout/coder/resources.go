package coder

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/formulas"
)

var _ fanout.ResourceConnector = (*Connector)(nil)

// What a pass does to one workspace.
const (
	doNothing = iota
	doCreate
	doUpdate // a new build with changed parameter values
	doStop
	doDelete
	doKeep // a removed workspace whose policy is keep
)

// paramChange is one parameter value that differs from the latest
// build's.
type paramChange struct {
	name, from, to string
	// had is false when the latest build has no value for it.
	had bool
}

// step is what converging one workspace takes, worked out by reading
// Coder only.
type step struct {
	do int
	// name is the workspace's name as the formula gives it; src the
	// formula's Source.
	name, src string
	// ws is the workspace when it exists.
	ws *codersdk.Workspace
	// For doCreate: the template, the values the formula sets and the
	// preset.
	template *codersdk.Template
	params   []codersdk.WorkspaceBuildParameter
	preset   *codersdk.Preset
	// For doUpdate: the changes a build applies, the transition it
	// keeps (start or stop) and the changes Coder refuses (immutable
	// parameters), which are left as they are.
	changes    []paramChange
	transition codersdk.WorkspaceTransition
	immutable  []paramChange
	// busy: a build of the workspace is pending or running, and Coder
	// takes no other until it ends.
	busy bool
}

// pass reads Coder for one call of EnsureResources or PlanResources,
// remembering templates, parameters and presets it has read.
type pass struct {
	c       *Connector
	owner   uuid.UUID // uuid.Nil: the user has no account yet
	org     codersdk.Organization
	tmpl    map[string]*codersdk.Template // by lowercase name; nil: missing
	params  map[uuid.UUID][]codersdk.TemplateVersionParameter
	presets map[uuid.UUID][]codersdk.Preset
	// unapplied says what the pass left because Coder cannot change it.
	unapplied []string
}

func (c *Connector) newPass(ctx context.Context, u fanout.User) (*pass, error) {
	p := &pass{c: c, tmpl: map[string]*codersdk.Template{},
		params: map[uuid.UUID][]codersdk.TemplateVersionParameter{}, presets: map[uuid.UUID][]codersdk.Preset{}}
	if u.RemoteID != "" {
		id, err := uuid.Parse(u.RemoteID)
		if err != nil {
			return nil, fanout.Terminal(fmt.Errorf("coder: user %q is linked to %q, which is not a coder user id", u.UserName, u.RemoteID))
		}
		p.owner = id
	}
	orgs, err := c.organizations(ctx)
	if err != nil {
		return nil, err
	}
	p.org = orgs[0]
	return p, nil
}

// workspace reads the owner's workspace named name; nil when there is
// none (or it is deleted).
func (p *pass) workspace(ctx context.Context, src, name string) (*codersdk.Workspace, error) {
	if p.owner == uuid.Nil {
		return nil, nil
	}
	var ws codersdk.Workspace
	err := p.c.call(ctx, fmt.Sprintf("formula %s: read workspace %q", src, name), func(ctx context.Context) (err error) {
		ws, err = p.c.api.WorkspaceByOwnerAndName(ctx, p.owner.String(), name, codersdk.WorkspaceOptions{})
		return err
	})
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &ws, nil
}

// template reads a template of the organization by name; a missing one
// is a terminal error naming it and the formula.
func (p *pass) template(ctx context.Context, src, wsName, name string) (*codersdk.Template, error) {
	key := strings.ToLower(name)
	t, seen := p.tmpl[key]
	if !seen {
		var got codersdk.Template
		err := p.c.call(ctx, fmt.Sprintf("formula %s: read template %q", src, name), func(ctx context.Context) (err error) {
			got, err = p.c.api.TemplateByName(ctx, p.org.ID, name)
			return err
		})
		switch {
		case isStatus(err, http.StatusNotFound):
		case err != nil:
			return nil, err
		default:
			t = &got
		}
		p.tmpl[key] = t
	}
	if t == nil {
		return nil, fanout.Terminal(fmt.Errorf("coder: formula %s: workspace %q: template %q does not exist in organization %q", src, wsName, name, p.org.Name))
	}
	return t, nil
}

func (p *pass) versionParams(ctx context.Context, src string, version uuid.UUID) ([]codersdk.TemplateVersionParameter, error) {
	if got, ok := p.params[version]; ok {
		return got, nil
	}
	var got []codersdk.TemplateVersionParameter
	err := p.c.call(ctx, fmt.Sprintf("formula %s: read parameters of template version %s", src, version), func(ctx context.Context) (err error) {
		got, err = p.c.api.TemplateVersionRichParameters(ctx, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.params[version] = got
	return got, nil
}

// preset finds a preset of a template version by name (exactly, as
// Coder shows it); a missing one is a terminal error.
func (p *pass) preset(ctx context.Context, w *formulas.Workspace, template string, version uuid.UUID) (*codersdk.Preset, error) {
	src := w.Source.String()
	all, ok := p.presets[version]
	if !ok {
		err := p.c.call(ctx, fmt.Sprintf("formula %s: read presets of template version %s", src, version), func(ctx context.Context) (err error) {
			all, err = p.c.api.TemplateVersionPresets(ctx, version)
			return err
		})
		if err != nil {
			return nil, err
		}
		p.presets[version] = all
	}
	for i := range all {
		if all[i].Name == w.Preset {
			return &all[i], nil
		}
	}
	names := make([]string, len(all))
	for i, ps := range all {
		names[i] = fmt.Sprintf("%q", ps.Name)
	}
	known := "it has none"
	if len(names) > 0 {
		known = "it has " + strings.Join(names, ", ")
	}
	return nil, fanout.Terminal(fmt.Errorf("coder: formula %s: workspace %q: template %q has no preset %q (%s)", src, w.Name, template, w.Preset, known))
}

// desired is the values a workspace gets: the formula's parameters, and
// the preset's, which win as they do in Coder
// (coderd/wsbuilder/wsbuilder.go: findNewBuildParameterValue).
func desired(w *formulas.Workspace, preset *codersdk.Preset) map[string]string {
	out := maps.Clone(w.Parameters)
	if out == nil {
		out = map[string]string{}
	}
	if preset != nil {
		for _, pp := range preset.Parameters {
			out[pp.Name] = pp.Value
		}
	}
	return out
}

// checkValue refuses a value Coder would refuse, or would silently drop:
// a parameter the template does not have, a value outside its options.
func checkValue(w *formulas.Workspace, template string, params []codersdk.TemplateVersionParameter, name, value string) (*codersdk.TemplateVersionParameter, error) {
	i := slices.IndexFunc(params, func(p codersdk.TemplateVersionParameter) bool { return p.Name == name })
	if i < 0 {
		// Coder drops values of no parameter without a word
		// (coderd/dynamicparameters/resolver.go), so the workspace would
		// never match the formula.
		return nil, fanout.Terminal(fmt.Errorf("coder: formula %s: workspace %q: template %q has no parameter %q", w.Source, w.Name, template, name))
	}
	p := &params[i]
	if len(p.Options) > 0 && p.Type != "list(string)" &&
		!slices.ContainsFunc(p.Options, func(o codersdk.TemplateVersionParameterOption) bool { return o.Value == value }) {
		opts := make([]string, len(p.Options))
		for j, o := range p.Options {
			opts[j] = o.Value
		}
		return nil, fanout.Terminal(fmt.Errorf("coder: formula %s: workspace %q: parameter %q of template %q takes one of %s, not %q",
			w.Source, w.Name, name, template, strings.Join(opts, ", "), value))
	}
	return p, nil
}

// wanted works out the step for a workspace that a formula asks for.
func (p *pass) wanted(ctx context.Context, w *formulas.Workspace) (step, error) {
	src := w.Source.String()
	st := step{name: w.Name, src: src}
	ws, err := p.workspace(ctx, src, w.Name)
	if err != nil {
		return st, err
	}
	if ws == nil {
		return p.creation(ctx, w, st)
	}
	if ws.OrganizationID != p.org.ID || !strings.EqualFold(ws.TemplateName, w.Template) {
		return st, fanout.Terminal(fmt.Errorf("coder: formula %s: workspace %q exists with template %q of organization %q, and the formula asks for template %q of %q; a workspace is never replaced: rename or delete it, or change the formula",
			src, ws.Name, ws.TemplateName, ws.OrganizationName, w.Template, p.org.Name))
	}
	st.ws = ws // the formula's: adopted
	latest := ws.LatestBuild
	if latest.Transition == codersdk.WorkspaceTransitionDelete && latest.Job.Status != codersdk.ProvisionerJobFailed && latest.Job.Status != codersdk.ProvisionerJobCanceled {
		return st, fmt.Errorf("coder: formula %s: workspace %q is being deleted; it is created again once it is gone", src, ws.Name)
	}
	var preset *codersdk.Preset
	if w.Preset != "" {
		if preset, err = p.preset(ctx, w, ws.TemplateName, latest.TemplateVersionID); err != nil {
			return st, err
		}
	}
	want := desired(w, preset)
	var current []codersdk.WorkspaceBuildParameter
	err = p.c.call(ctx, fmt.Sprintf("formula %s: read parameters of workspace %q", src, ws.Name), func(ctx context.Context) (err error) {
		current, err = p.c.api.WorkspaceBuildParameters(ctx, latest.ID)
		return err
	})
	if err != nil {
		return st, err
	}
	cur := map[string]string{}
	for _, bp := range current {
		cur[bp.Name] = bp.Value
	}
	var diff []paramChange
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if v, ok := cur[name]; !ok || v != want[name] {
			diff = append(diff, paramChange{name: name, from: v, to: want[name], had: ok})
		}
	}
	if len(diff) == 0 {
		return st, nil
	}
	params, err := p.versionParams(ctx, src, latest.TemplateVersionID)
	if err != nil {
		return st, err
	}
	for _, d := range diff {
		tp, err := checkValue(w, ws.TemplateName, params, d.name, d.to)
		if err != nil {
			return st, err
		}
		switch {
		case tp.Ephemeral:
			// An ephemeral value lasts one build; comparing it with a
			// later build would rebuild the workspace at every pass.
		case !tp.Mutable && d.had:
			// Coder refuses to change an immutable parameter after the
			// first build (codersdk.ParameterResolver.ValidateResolve,
			// coderd/dynamicparameters/resolver.go); a new one may be set.
			st.immutable = append(st.immutable, d)
		default:
			st.changes = append(st.changes, d)
		}
	}
	if len(st.changes) > 0 {
		st.do = doUpdate
		st.preset = preset
		st.transition = codersdk.WorkspaceTransitionStart
		if latest.Transition == codersdk.WorkspaceTransitionStop {
			st.transition = codersdk.WorkspaceTransitionStop
		}
		st.busy = latest.Job.Status.Active()
	} else if len(st.immutable) > 0 {
		st.do = doUpdate // said in a plan; nothing is written
	}
	return st, nil
}

// creation works out the creation of a missing workspace, checking
// beforehand what Coder would refuse or ignore.
func (p *pass) creation(ctx context.Context, w *formulas.Workspace, st step) (step, error) {
	t, err := p.template(ctx, st.src, w.Name, w.Template)
	if err != nil {
		return st, err
	}
	st.do, st.template = doCreate, t
	if w.Preset != "" {
		if st.preset, err = p.preset(ctx, w, t.Name, t.ActiveVersionID); err != nil {
			return st, err
		}
	}
	params, err := p.versionParams(ctx, st.src, t.ActiveVersionID)
	if err != nil {
		return st, err
	}
	want := desired(w, st.preset)
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, err := checkValue(w, t.Name, params, name, want[name]); err != nil {
			return st, err
		}
	}
	for _, tp := range params {
		if _, ok := want[tp.Name]; tp.Required && !ok {
			return st, fanout.Terminal(fmt.Errorf("coder: formula %s: workspace %q: template %q requires parameter %q, which the formula does not set", st.src, w.Name, t.Name, tp.Name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(w.Parameters)) {
		st.params = append(st.params, codersdk.WorkspaceBuildParameter{Name: name, Value: w.Parameters[name]})
	}
	return st, nil
}

// removal works out the step for a workspace no formula asks for any
// more, by its policy (see formulas, "Removal"): keep leaves it, suspend
// stops it, delete deletes it. One that is gone, or that now belongs to
// another template (someone else's), is left alone.
func (p *pass) removal(ctx context.Context, h *formulas.Workspace) (step, error) {
	src := h.Source.String()
	st := step{name: h.Name, src: src}
	policy := h.OnRemove
	if policy == "" {
		policy = formulas.OnRemoveSuspend
	}
	if policy == formulas.OnRemoveKeep {
		st.do = doKeep
		return st, nil
	}
	ws, err := p.workspace(ctx, src, h.Name)
	if err != nil || ws == nil {
		return st, err
	}
	st.ws = ws
	if ws.OrganizationID != p.org.ID || !strings.EqualFold(ws.TemplateName, h.Template) {
		p.c.log.WarnContext(ctx, "workspace left alone: it has another template now",
			"workspace", ws.Name, "workspace_id", ws.ID.String(), "template", ws.TemplateName, "formula", src)
		return st, nil
	}
	latest := ws.LatestBuild
	failed := latest.Job.Status == codersdk.ProvisionerJobFailed || latest.Job.Status == codersdk.ProvisionerJobCanceled
	switch {
	case latest.Transition == codersdk.WorkspaceTransitionDelete && !failed:
		// Being deleted already.
	case policy == formulas.OnRemoveDelete:
		st.do = doDelete
	case latest.Transition == codersdk.WorkspaceTransitionStop && !failed:
		// Stopped, or stopping.
	default:
		st.do = doStop
	}
	st.busy = st.do != doNothing && latest.Job.Status.Active()
	return st, nil
}

// errBusy is the answer while a build is in progress: Coder takes no
// other (coderd/wsbuilder/wsbuilder.go: checkRunningBuild, 409), so the
// pass is retried.
func errBusy(st step, what string) error {
	return fmt.Errorf("coder: formula %s: workspace %q has a build in progress; it is %s once that build ends", st.src, st.name, what)
}

// retryable turns a terminal 409 of a build into an error that is
// retried: a build that started meanwhile.
func retryable(err error) error {
	var te *fanout.TerminalError
	if isStatus(err, http.StatusConflict) && errors.As(err, &te) {
		return te.Err
	}
	return err
}

// apply does the step's one write, if any. written reports whether a
// write reached Coder (or may have).
func (p *pass) apply(ctx context.Context, u fanout.User, st step) (written bool, err error) {
	switch st.do {
	case doCreate:
		req := codersdk.CreateWorkspaceRequest{TemplateID: st.template.ID, Name: st.name, RichParameterValues: st.params}
		if st.preset != nil {
			req.TemplateVersionPresetID = st.preset.ID
		}
		var ws codersdk.Workspace
		err := p.c.call(ctx, fmt.Sprintf("formula %s: create workspace %q", st.src, st.name), func(ctx context.Context) (err error) {
			ws, err = p.c.api.CreateUserWorkspace(ctx, p.owner.String(), req)
			return err
		})
		if err != nil && p.c.userAdmin.Load() && (isStatus(err, http.StatusForbidden) || isStatus(err, http.StatusNotFound)) {
			err = fmt.Errorf("%w (the token's user is a User Admin; creating workspaces for other users needs an Owner's token)", err)
		}
		if err != nil {
			return true, err
		}
		p.c.log.InfoContext(ctx, "created workspace", "user", u.UserName, "workspace", ws.Name, "workspace_id", ws.ID.String(),
			"template", st.template.Name, "formula", st.src)
		return true, nil
	case doUpdate:
		if len(st.immutable) > 0 {
			var parts []string
			for _, d := range st.immutable {
				parts = append(parts, fmt.Sprintf("%s (%s -> %s)", d.name, shown(d.from, true), shown(d.to, true)))
			}
			p.unapplied = append(p.unapplied, fmt.Sprintf("workspace %s: immutable parameter %s cannot change: recreate the workspace to apply [%s]",
				st.name, strings.Join(parts, ", "), st.src))
		}
		if len(st.changes) == 0 {
			names := make([]string, len(st.immutable))
			for i, d := range st.immutable {
				names[i] = d.name
			}
			p.c.log.WarnContext(ctx, "immutable workspace parameters differ from the formula",
				"user", u.UserName, "workspace", st.name, "parameters", names, "formula", st.src)
			return false, nil
		}
		if st.busy {
			return false, errBusy(st, "updated")
		}
		req := codersdk.CreateWorkspaceBuildRequest{Transition: st.transition}
		for _, d := range st.changes {
			req.RichParameterValues = append(req.RichParameterValues, codersdk.WorkspaceBuildParameter{Name: d.name, Value: d.to})
		}
		if st.preset != nil {
			req.TemplateVersionPresetID = st.preset.ID
		}
		if err := p.build(ctx, st, "update parameters of", req); err != nil {
			return true, retryable(err)
		}
		p.c.log.InfoContext(ctx, "updated workspace parameters", "user", u.UserName, "workspace", st.name,
			"parameters", len(st.changes), "transition", string(st.transition), "formula", st.src)
		return true, nil
	case doStop, doDelete:
		tr, what := codersdk.WorkspaceTransitionStop, "stop"
		if st.do == doDelete {
			tr, what = codersdk.WorkspaceTransitionDelete, "delete"
		}
		if st.busy {
			return false, errBusy(st, map[string]string{"stop": "stopped", "delete": "deleted"}[what])
		}
		err := p.build(ctx, st, what, codersdk.CreateWorkspaceBuildRequest{Transition: tr})
		if isStatus(err, http.StatusNotFound) {
			return true, nil // deleted meanwhile
		}
		if err != nil {
			return true, retryable(err)
		}
		if st.do == doDelete {
			p.c.log.InfoContext(ctx, "deleting workspace", "user", u.UserName, "workspace", st.name, "formula", st.src)
		} else {
			p.c.log.InfoContext(ctx, "stopping workspace", "user", u.UserName, "workspace", st.name, "formula", st.src)
		}
		return true, nil
	}
	return false, nil
}

func (p *pass) build(ctx context.Context, st step, what string, req codersdk.CreateWorkspaceBuildRequest) error {
	return p.c.call(ctx, fmt.Sprintf("formula %s: %s workspace %q", st.src, what, st.name), func(ctx context.Context) error {
		_, err := p.c.api.CreateWorkspaceBuild(ctx, st.ws.ID, req)
		return err
	})
}

// ensure converges one wanted workspace. A creation that Coder refuses
// with 409 (the name was taken meanwhile: a concurrent pass, the person
// themselves) is worked out again, and the workspace adopted.
func (p *pass) ensure(ctx context.Context, u fanout.User, w *formulas.Workspace) (st step, written bool, err error) {
	for try := 0; ; try++ {
		if err = ctx.Err(); err != nil {
			return st, written, err
		}
		if st, err = p.wanted(ctx, w); err != nil {
			return st, written, err
		}
		var wrote bool
		wrote, err = p.apply(ctx, u, st)
		written = written || wrote
		if st.do != doCreate || !isStatus(err, http.StatusConflict) || try > 0 {
			return st, written, err
		}
	}
}

// removed lists the workspaces of had that want does not ask for.
func removed(want, had []formulas.Workspace) []formulas.Workspace {
	keys := map[string]bool{}
	for i := range want {
		keys[want[i].Key()] = true
	}
	var out []formulas.Workspace
	for _, h := range had {
		if !keys[h.Key()] {
			out = append(out, h)
		}
	}
	return out
}

// EnsureResources gives u the workspaces of their formulas
// (want.Coder.Workspaces) and applies the onRemove policy of those no
// formula asks for any more (see the package documentation, "Formula
// resources"). u.RemoteID is the user's Coder id. Each workspace is
// converged on its own, so that one that fails holds back no other; the
// errors are returned together, terminal only when every one is. It
// returns the workspaces of want that are applied or may be (a creation
// whose answer was lost, one linked before), and those of had whose
// removal failed, so that the next pass finishes the work.
func (c *Connector) EnsureResources(ctx context.Context, u fanout.User, want, had formulas.Resources) (formulas.Resources, error) {
	wanted := want.Coder.Workspaces
	if u.Deleted {
		wanted = nil // a deleted user is given nothing
	}
	if len(wanted) == 0 && len(had.Coder.Workspaces) == 0 {
		return formulas.Resources{}, nil
	}
	if u.RemoteID == "" {
		err := fanout.Terminal(fmt.Errorf("coder: user %q has no coder account to give workspaces to", u.UserName))
		return formulas.Resources{Coder: had.Coder}, err
	}
	p, err := c.newPass(ctx, u)
	if err != nil {
		return formulas.Resources{Coder: had.Coder}, err
	}
	hadKeys := map[string]bool{}
	for i := range had.Coder.Workspaces {
		hadKeys[had.Coder.Workspaces[i].Key()] = true
	}
	var applied []formulas.Workspace
	var errs []error
	for i := range wanted {
		w := &wanted[i]
		st, written, err := p.ensure(ctx, u, w)
		if err == nil || written || st.ws != nil || hadKeys[w.Key()] {
			applied = append(applied, *w)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, h := range removed(wanted, had.Coder.Workspaces) {
		err := ctx.Err()
		if err == nil {
			var st step
			if st, err = p.removal(ctx, &h); err == nil {
				_, err = p.apply(ctx, u, st)
			}
		}
		if err != nil {
			applied = append(applied, h) // tried again next time
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && len(p.unapplied) > 0 {
		return formulas.Resources{Coder: formulas.CoderResources{Workspaces: applied}}, fanout.Unapplied(strings.Join(p.unapplied, "; "))
	}
	return formulas.Resources{Coder: formulas.CoderResources{Workspaces: applied}}, combine(errs)
}

// combine returns the errors of a pass as one: terminal when each is,
// else retried (with the Retry-After of one that asks for it).
func combine(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	allTerminal := true
	inner := make([]error, len(errs))
	for i, err := range errs {
		var te *fanout.TerminalError
		if errors.As(err, &te) {
			inner[i] = te.Err
		} else {
			inner[i], allTerminal = err, false
		}
	}
	if allTerminal {
		return fanout.Terminal(errors.Join(inner...))
	}
	return errors.Join(inner...)
}

// PlanResources says what EnsureResources would do, reading Coder and
// writing nothing: one change per workspace that would be created,
// updated (its parameters; or an immutable parameter that cannot change),
// stopped or deleted, or that stays because its policy is keep. A
// workspace that already matches gives none. A problem EnsureResources
// would meet (a missing template, preset or parameter, a workspace of
// another template) is returned as the error.
func (c *Connector) PlanResources(ctx context.Context, u fanout.User, want, had formulas.Resources) ([]fanout.Change, error) {
	wanted := want.Coder.Workspaces
	if u.Deleted {
		wanted = nil
	}
	if len(wanted) == 0 && len(had.Coder.Workspaces) == 0 {
		return nil, nil
	}
	p, err := c.newPass(ctx, u)
	if err != nil {
		return nil, err
	}
	var out []fanout.Change
	var errs []error
	for i := range wanted {
		st, err := p.wanted(ctx, &wanted[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ch, ok := change(st); ok {
			out = append(out, ch)
		}
	}
	for _, h := range removed(wanted, had.Coder.Workspaces) {
		st, err := p.removal(ctx, &h)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ch, ok := change(st); ok {
			out = append(out, ch)
		}
	}
	if err := combine(errs); err != nil {
		return nil, err
	}
	return out, nil
}

// change describes a step for a plan.
func change(st step) (fanout.Change, bool) {
	ch := fanout.Change{Connector: name, Kind: "workspace", Name: st.name, Source: st.src}
	after := ""
	if st.busy {
		after = " (once the build in progress ends)"
	}
	switch st.do {
	case doCreate:
		parts := []string{"from template " + st.template.Name}
		if st.preset != nil {
			parts = append(parts, fmt.Sprintf("preset %q", st.preset.Name))
		}
		if len(st.params) > 0 {
			vals := make([]string, len(st.params))
			for i, bp := range st.params {
				vals[i] = bp.Name + "=" + bp.Value
			}
			parts = append(parts, "parameters "+strings.Join(vals, ", "))
		}
		ch.Action, ch.Detail = fanout.ActionCreate, strings.Join(parts, ", ")
	case doUpdate:
		var parts []string
		if len(st.changes) > 0 {
			vals := make([]string, len(st.changes))
			for i, d := range st.changes {
				vals[i] = fmt.Sprintf("%s: %s -> %s", d.name, shown(d.from, d.had), shown(d.to, true))
			}
			how := "a new start build"
			if st.transition == codersdk.WorkspaceTransitionStop {
				how = "a new stop build; the workspace stays stopped"
			}
			parts = append(parts, fmt.Sprintf("parameters %s (%s)%s", strings.Join(vals, "; "), how, after))
		}
		for _, d := range st.immutable {
			parts = append(parts, fmt.Sprintf("immutable parameter %s cannot change (%s -> %s): recreate the workspace to apply", d.name, shown(d.from, true), shown(d.to, true)))
		}
		ch.Action, ch.Detail = fanout.ActionUpdate, strings.Join(parts, "; ")
	case doStop:
		ch.Action, ch.Detail = fanout.ActionRemove, "stop"+after
	case doDelete:
		ch.Action, ch.Detail = fanout.ActionRemove, "delete"+after
	case doKeep:
		ch.Action, ch.Detail = fanout.ActionKeep, "the workspace stays as it is (onRemove: keep)"
	default:
		return ch, false
	}
	return ch, true
}

// shown quotes a parameter value for a plan.
func shown(v string, set bool) string {
	if !set {
		return "(unset)"
	}
	return fmt.Sprintf("%q", v)
}
