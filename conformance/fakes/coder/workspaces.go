package coderfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"
)

// Templates, template versions and workspaces with their builds. The
// rules are Coder v2.36.1's (github.com/coder/coder, the files cited at
// each handler); builds are not run, since the fake has no provisioner:
// a new build's job succeeds at once, or stays pending while HoldBuilds
// is on, as in a Coder without provisioner daemons.

type template struct {
	codersdk.Template
}

type templateVersion struct {
	codersdk.TemplateVersion
	params  []codersdk.TemplateVersionParameter
	presets []codersdk.Preset
}

type workspace struct {
	id, owner, org, template uuid.UUID
	name                     string
	createdAt                time.Time
	deleted                  bool
	builds                   []*build // in build-number order
}

type build struct {
	codersdk.WorkspaceBuild // Status and Job.Status as last set
	params                  []codersdk.WorkspaceBuildParameter
}

// TemplateSeed describes a template to put in the fake, as an
// administrator's "coder templates push" would, with one version whose
// import has succeeded.
type TemplateSeed struct {
	// Organization defaults to the default organization.
	Organization uuid.UUID
	// Name is the template's name; Coder finds it without regard to
	// case.
	Name string
	// Parameters are the rich parameters of the version (Name, Type
	// "string" by default, Mutable, Required, DefaultValue, Options,
	// Ephemeral).
	Parameters []codersdk.TemplateVersionParameter
	// Presets are the version's presets (Name and Parameters); an ID is
	// given to each that has none.
	Presets []codersdk.Preset
	// Deprecated makes Coder refuse new workspaces of the template.
	Deprecated bool
}

// AddTemplate creates a template with one version, its active one, and
// returns it. It returns an error when the organization does not exist
// or the name is taken in it.
func (f *Fake) AddTemplate(s TemplateSeed) (codersdk.Template, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	org := f.orgs[0]
	if s.Organization != uuid.Nil {
		if org = f.orgByIDLocked(s.Organization); org == nil {
			return codersdk.Template{}, fmt.Errorf("coderfake: no organization %s", s.Organization)
		}
	}
	if f.templateByNameLocked(org.ID, s.Name) != nil {
		return codersdk.Template{}, fmt.Errorf("coderfake: template %q exists in %s", s.Name, org.Name)
	}
	now := time.Now().UTC()
	t := &template{codersdk.Template{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now,
		OrganizationID: org.ID, OrganizationName: org.Name, OrganizationDisplayName: org.DisplayName,
		Name: s.Name, DisplayName: s.Name, Provisioner: codersdk.ProvisionerTypeTerraform,
		CreatedByID: f.AdminID, CreatedByName: AdminUsername, Deprecated: s.Deprecated,
	}}
	if s.Deprecated {
		t.DeprecationMessage = "This template is deprecated."
	}
	f.templates[t.ID] = t
	v := f.addVersionLocked(t, s.Parameters, s.Presets)
	t.ActiveVersionID = v.ID
	return t.Template, nil
}

// AddTemplateVersion adds a version to a template, with its own
// parameters and presets, makes it the active one and returns it.
func (f *Fake) AddTemplateVersion(templateID uuid.UUID, params []codersdk.TemplateVersionParameter, presets []codersdk.Preset) (codersdk.TemplateVersion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.templates[templateID]
	if t == nil {
		return codersdk.TemplateVersion{}, fmt.Errorf("coderfake: no template %s", templateID)
	}
	v := f.addVersionLocked(t, params, presets)
	t.ActiveVersionID = v.ID
	t.UpdatedAt = time.Now().UTC()
	return v.TemplateVersion, nil
}

func (f *Fake) addVersionLocked(t *template, params []codersdk.TemplateVersionParameter, presets []codersdk.Preset) *templateVersion {
	now := time.Now().UTC()
	tid := t.ID
	v := &templateVersion{TemplateVersion: codersdk.TemplateVersion{
		ID: uuid.New(), TemplateID: &tid, OrganizationID: t.OrganizationID, CreatedAt: now, UpdatedAt: now,
		Name:      fmt.Sprintf("v%d", len(f.versionsOfLocked(t.ID))+1),
		Job:       codersdk.ProvisionerJob{ID: uuid.New(), CreatedAt: now, CompletedAt: &now, Status: codersdk.ProvisionerJobSucceeded, OrganizationID: t.OrganizationID, Type: codersdk.ProvisionerJobTypeTemplateVersionImport},
		CreatedBy: codersdk.MinimalUser{ID: f.AdminID, Username: AdminUsername},
	}}
	for _, p := range params {
		if p.Type == "" {
			p.Type = "string"
		}
		if p.Options == nil {
			p.Options = []codersdk.TemplateVersionParameterOption{}
		}
		v.params = append(v.params, p)
	}
	for _, p := range presets {
		if p.ID == uuid.Nil {
			p.ID = uuid.New()
		}
		p.Parameters = slices.Clone(p.Parameters)
		v.presets = append(v.presets, p)
	}
	f.versions[v.ID] = v
	return v
}

func (f *Fake) versionsOfLocked(templateID uuid.UUID) []*templateVersion {
	var out []*templateVersion
	for _, v := range f.versions {
		if v.TemplateID != nil && *v.TemplateID == templateID {
			out = append(out, v)
		}
	}
	return out
}

// Presets returns the presets of a template version, with their ids.
func (f *Fake) Presets(version uuid.UUID) []codersdk.Preset {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v := f.versions[version]; v != nil {
		return slices.Clone(v.presets)
	}
	return nil
}

// DeleteTemplate marks a template deleted, as an administrator's
// "coder templates delete" does (Coder refuses while workspaces use it;
// the fake does not check).
func (f *Fake) DeleteTemplate(id uuid.UUID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.templates[id]; t != nil {
		t.Deleted = true
	}
}

// AddWorkspace creates a workspace directly, as its owner could have by
// hand, with one start build of the template's active version whose
// parameters are params (not checked), and returns it.
func (f *Fake) AddWorkspace(owner uuid.UUID, name string, templateID uuid.UUID, params map[string]string) (codersdk.Workspace, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, t := f.users[owner], f.templates[templateID]
	if u == nil || t == nil {
		return codersdk.Workspace{}, errors.New("coderfake: no such owner or template")
	}
	if f.workspaceByNameLocked(owner, name) != nil {
		return codersdk.Workspace{}, fmt.Errorf("coderfake: workspace %q exists", name)
	}
	now := time.Now().UTC()
	ws := &workspace{id: uuid.New(), owner: owner, org: t.OrganizationID, template: t.ID, name: name, createdAt: now}
	f.workspaces[ws.id] = ws
	var bp []codersdk.WorkspaceBuildParameter
	for _, k := range slices.Sorted(maps.Keys(params)) {
		bp = append(bp, codersdk.WorkspaceBuildParameter{Name: k, Value: params[k]})
	}
	f.addBuildLocked(ws, t.ActiveVersionID, codersdk.WorkspaceTransitionStart, owner, bp, nil)
	return f.sdkWorkspaceLocked(ws), nil
}

// Workspace returns the workspace of owner named name (without regard
// to case) that is not deleted, the parameter values of its latest build
// by name, and whether there is one. The latest build's transition and
// status are in its LatestBuild.
func (f *Fake) Workspace(owner uuid.UUID, name string) (codersdk.Workspace, map[string]string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ws := f.workspaceByNameLocked(owner, name)
	if ws == nil {
		return codersdk.Workspace{}, nil, false
	}
	params := map[string]string{}
	for _, p := range ws.builds[len(ws.builds)-1].params {
		params[p.Name] = p.Value
	}
	return f.sdkWorkspaceLocked(ws), params, true
}

// Workspaces returns the workspaces of owner that are not deleted,
// ordered by name.
func (f *Fake) Workspaces(owner uuid.UUID) []codersdk.Workspace {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []codersdk.Workspace
	for _, ws := range f.workspaces {
		if ws.owner == owner && !ws.deleted {
			out = append(out, f.sdkWorkspaceLocked(ws))
		}
	}
	slices.SortFunc(out, func(a, b codersdk.Workspace) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Builds returns every build of a workspace, deleted or not, oldest
// first.
func (f *Fake) Builds(workspaceID uuid.UUID) []codersdk.WorkspaceBuild {
	f.mu.Lock()
	defer f.mu.Unlock()
	ws := f.workspaces[workspaceID]
	if ws == nil {
		return nil
	}
	out := make([]codersdk.WorkspaceBuild, len(ws.builds))
	for i, b := range ws.builds {
		out[i] = f.sdkBuildLocked(ws, b)
	}
	return out
}

// HoldBuilds makes new builds stay pending, as they do in a Coder
// without provisioner daemons (hold true), or lets them succeed at once
// again (false; builds held so far stay pending until CompleteBuilds).
func (f *Fake) HoldBuilds(hold bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holdBuilds = hold
}

// CompleteBuilds makes every pending build succeed, as a provisioner
// would; a delete build deletes its workspace.
func (f *Fake) CompleteBuilds() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ws := range f.workspaces {
		for _, b := range ws.builds {
			if b.Job.Status.Active() {
				f.completeLocked(ws, b)
			}
		}
	}
}

// completeLocked ends a build's job with success
// (coderd/provisionerdserver/provisionerdserver.go: a delete build that
// completes marks its workspace deleted).
func (f *Fake) completeLocked(ws *workspace, b *build) {
	now := time.Now().UTC()
	b.Job.Status = codersdk.ProvisionerJobSucceeded
	b.Job.StartedAt, b.Job.CompletedAt = &now, &now
	b.UpdatedAt = now
	if b.Transition == codersdk.WorkspaceTransitionDelete {
		ws.deleted = true
	}
}

func (f *Fake) addBuildLocked(ws *workspace, version uuid.UUID, tr codersdk.WorkspaceTransition, initiator uuid.UUID, params []codersdk.WorkspaceBuildParameter, preset *uuid.UUID) *build {
	now := time.Now().UTC()
	v := f.versions[version]
	b := &build{WorkspaceBuild: codersdk.WorkspaceBuild{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, WorkspaceID: ws.id,
		TemplateVersionID: version, TemplateVersionName: v.Name,
		BuildNumber: int32(len(ws.builds) + 1), Transition: tr, InitiatorID: initiator,
		Reason: codersdk.BuildReasonInitiator, TemplateVersionPresetID: preset,
		Job: codersdk.ProvisionerJob{ID: uuid.New(), CreatedAt: now, Status: codersdk.ProvisionerJobPending,
			OrganizationID: ws.org, InitiatorID: initiator, Type: codersdk.ProvisionerJobTypeWorkspaceBuild, Tags: map[string]string{}},
		Resources: []codersdk.WorkspaceResource{},
	}, params: params}
	if b.params == nil {
		b.params = []codersdk.WorkspaceBuildParameter{}
	}
	ws.builds = append(ws.builds, b)
	if !f.holdBuilds {
		f.completeLocked(ws, b)
	}
	return b
}

func (f *Fake) templateByNameLocked(org uuid.UUID, name string) *template {
	for _, t := range f.templates {
		if t.OrganizationID == org && !t.Deleted && strings.EqualFold(t.Name, name) {
			return t
		}
	}
	return nil
}

// workspaceByNameLocked is Coder's GetWorkspaceByOwnerIDAndName
// (coderd/database/queries/workspaces.sql): the owner's workspace that is
// not deleted, its name compared in lowercase.
func (f *Fake) workspaceByNameLocked(owner uuid.UUID, name string) *workspace {
	for _, ws := range f.workspaces {
		if ws.owner == owner && !ws.deleted && strings.EqualFold(ws.name, name) {
			return ws
		}
	}
	return nil
}

func (f *Fake) sdkBuildLocked(ws *workspace, b *build) codersdk.WorkspaceBuild {
	out := b.WorkspaceBuild
	out.WorkspaceName = ws.name
	out.WorkspaceOwnerID = ws.owner
	if u := f.users[ws.owner]; u != nil {
		out.WorkspaceOwnerName = u.Username
	}
	if u := f.users[b.InitiatorID]; u != nil {
		out.InitiatorUsername = u.Username
	}
	out.Status = codersdk.ConvertWorkspaceStatus(b.Job.Status, b.Transition)
	out.Job.Tags = maps.Clone(b.Job.Tags)
	return out
}

func (f *Fake) sdkWorkspaceLocked(ws *workspace) codersdk.Workspace {
	t := f.templates[ws.template]
	latest := ws.builds[len(ws.builds)-1]
	out := codersdk.Workspace{
		ID: ws.id, CreatedAt: ws.createdAt, UpdatedAt: latest.UpdatedAt, OwnerID: ws.owner,
		OrganizationID: ws.org, TemplateID: t.ID, TemplateName: t.Name, TemplateDisplayName: t.DisplayName,
		TemplateActiveVersionID: t.ActiveVersionID, LatestBuild: f.sdkBuildLocked(ws, latest),
		Outdated: latest.TemplateVersionID != t.ActiveVersionID, Name: ws.name, LastUsedAt: ws.createdAt,
		AutomaticUpdates: codersdk.AutomaticUpdatesNever,
		Health:           codersdk.WorkspaceHealth{Healthy: true, FailingAgents: []uuid.UUID{}},
	}
	if u := f.users[ws.owner]; u != nil {
		out.OwnerName = u.Username
	}
	if o := f.orgByIDLocked(ws.org); o != nil {
		out.OrganizationName = o.Name
	}
	return out
}

func isOwner(u *user) bool {
	for _, r := range u.Roles {
		if r.Name == codersdk.RoleOwner {
			return true
		}
	}
	return false
}

// mayManageWorkspacesOf reports whether the caller may see and build the
// workspaces of owner: Owners may, and everyone their own. A User Admin
// may not (coderd/rbac/roles.go: the user-admin role has no workspace
// permission).
func mayManageWorkspacesOf(caller *user, owner uuid.UUID) bool {
	return isOwner(caller) || caller.ID == owner
}

// uuidParam parses a uuid path value as Coder does
// (coderd/httpmw/httpmw.go: ParseUUIDParam), writing the 400 itself.
func uuidParam(w http.ResponseWriter, r *http.Request, name string) (uuid.UUID, bool) {
	raw := r.PathValue(name)
	id, err := uuid.Parse(raw)
	if err != nil {
		write(w, http.StatusBadRequest, codersdk.Response{Message: fmt.Sprintf("Invalid UUID %q.", raw), Detail: err.Error()})
		return uuid.Nil, false
	}
	return id, true
}

// templateByName answers GET
// /api/v2/organizations/{organization}/templates/{templatename}
// (coderd/templates.go: templateByOrganizationAndName): the template that
// is not deleted, its name compared in lowercase.
func (f *Fake) templateByName(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgParamLocked(r)
	if o == nil || (!isOwner(caller(r)) && !slices.Contains(caller(r).OrganizationIDs, o.ID)) {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	t := f.templateByNameLocked(o.ID, r.PathValue("templatename"))
	if t == nil {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	write(w, http.StatusOK, t.Template)
}

// versionParamLocked finds {templateversion}
// (coderd/httpmw/templateversionparam.go) that the caller may read.
func (f *Fake) versionParamLocked(w http.ResponseWriter, r *http.Request) *templateVersion {
	id, ok := uuidParam(w, r, "templateversion")
	if !ok {
		return nil
	}
	v := f.versions[id]
	if v == nil || (!isOwner(caller(r)) && !slices.Contains(caller(r).OrganizationIDs, v.OrganizationID)) {
		write(w, http.StatusNotFound, resourceNotFound)
		return nil
	}
	return v
}

// versionRichParameters answers GET
// /api/v2/templateversions/{templateversion}/rich-parameters
// (coderd/templateversions.go: templateVersionRichParameters).
func (f *Fake) versionRichParameters(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v := f.versionParamLocked(w, r); v != nil {
		out := make([]codersdk.TemplateVersionParameter, len(v.params))
		copy(out, v.params)
		write(w, http.StatusOK, out)
	}
}

// versionPresets answers GET
// /api/v2/templateversions/{templateversion}/presets
// (coderd/presets.go: templateVersionPresets).
func (f *Fake) versionPresets(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v := f.versionParamLocked(w, r); v != nil {
		var out []codersdk.Preset // null when there is none, as Coder answers
		for _, p := range v.presets {
			p.Parameters = slices.Clone(p.Parameters)
			out = append(out, p)
		}
		write(w, http.StatusOK, out)
	}
}

// parameterError is Coder's answer to parameters that do not validate,
// one validation per parameter
// (coderd/dynamicparameters/error.go: DiagnosticError.Response).
func parameterError(problems map[string]string) codersdk.Response {
	resp := codersdk.Response{Message: "Unable to validate parameters"}
	for _, name := range slices.Sorted(maps.Keys(problems)) {
		resp.Validations = append(resp.Validations, codersdk.ValidationError{Field: name, Detail: problems[name]})
	}
	return resp
}

// resolveParameters works out a build's parameter values as Coder's
// dynamic parameter flow does for a version without Terraform metadata
// (coderd/dynamicparameters/resolver.go: ResolveParameters, static.go):
// the previous build's values, overwritten by the request's, overwritten
// by the preset's; a value that names no parameter of the version is
// dropped; a required parameter without a value, a value that is not
// one of the options and a change of an immutable parameter after the
// first build are refused (texts from coder/preview parameter.go and
// coder/terraform-provider-coder provider/parameter.go).
func resolveParameters(v *templateVersion, prev, req []codersdk.WorkspaceBuildParameter, preset *codersdk.Preset, first bool) ([]codersdk.WorkspaceBuildParameter, map[string]string) {
	values, before := map[string]string{}, map[string]string{}
	for _, p := range prev {
		values[p.Name], before[p.Name] = p.Value, p.Value
	}
	for _, p := range req {
		values[p.Name] = p.Value
	}
	if preset != nil {
		for _, p := range preset.Parameters {
			values[p.Name] = p.Value
		}
	}
	problems := map[string]string{}
	var out []codersdk.WorkspaceBuildParameter
	for _, p := range v.params {
		val, ok := values[p.Name]
		if p.Ephemeral {
			if _, set := before[p.Name]; set && !slices.ContainsFunc(req, func(b codersdk.WorkspaceBuildParameter) bool { return b.Name == p.Name }) {
				ok = false // not taken from the previous build
			}
		}
		if !ok {
			if p.Required {
				problems[p.Name] = "Required parameter not provided; parameter value is null"
				continue
			}
			val = p.DefaultValue
		}
		if old, had := before[p.Name]; !first && !p.Mutable && had && old != val {
			problems[p.Name] = fmt.Sprintf("Immutable parameter changed; Parameter %q is not mutable, so it can't be updated after creating a workspace.", p.Name)
			continue
		}
		if len(p.Options) > 0 && !slices.ContainsFunc(p.Options, func(o codersdk.TemplateVersionParameterOption) bool { return o.Value == val }) {
			problems[p.Name] = fmt.Sprintf("Value must be a valid option; the value %q must be defined as one of options", val)
			continue
		}
		out = append(out, codersdk.WorkspaceBuildParameter{Name: p.Name, Value: val})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	if out == nil {
		out = []codersdk.WorkspaceBuildParameter{}
	}
	return out, nil
}

// presetLocked finds a preset by id among every version's.
func (f *Fake) presetLocked(id uuid.UUID) *codersdk.Preset {
	for _, v := range f.versions {
		for i := range v.presets {
			if v.presets[i].ID == id {
				return &v.presets[i]
			}
		}
	}
	return nil
}

// postUserWorkspace answers POST /api/v2/users/{user}/workspaces
// (coderd/workspaces.go: postUserWorkspaces, createWorkspace,
// requestTemplate, preflightWorkspaceCreate).
func (f *Fake) postUserWorkspace(w http.ResponseWriter, r *http.Request) {
	var req codersdk.CreateWorkspaceRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Request body must be valid JSON.", Detail: err.Error()})
		return
	}
	// coderd/httpapi/httpapi.go: Read validates the tags of
	// codersdk.CreateWorkspaceRequest.
	var errs []codersdk.ValidationError
	fail := func(field, tag, value string) {
		errs = append(errs, codersdk.ValidationError{Field: field,
			Detail: fmt.Sprintf("Validation failed for tag %q with value: \"%v\"", tag, value)})
	}
	switch {
	case req.TemplateID == uuid.Nil && req.TemplateVersionID == uuid.Nil:
		fail("template_id", "required_without", uuid.Nil.String())
		fail("template_version_id", "required_without", uuid.Nil.String())
	case req.TemplateID != uuid.Nil && req.TemplateVersionID != uuid.Nil:
		fail("template_id", "excluded_with", req.TemplateID.String())
		fail("template_version_id", "excluded_with", req.TemplateVersionID.String())
	}
	switch {
	case req.Name == "":
		fail("name", "required", req.Name)
	case codersdk.NameValid(req.Name) != nil:
		fail("name", "workspace_name", req.Name)
	}
	if len(errs) > 0 {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Validation failed.", Validations: errs})
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	owner := f.userParamLocked(r)
	if owner == nil {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	var version *templateVersion
	tid := req.TemplateID
	if tid == uuid.Nil {
		version = f.versions[req.TemplateVersionID]
		if version == nil || version.TemplateID == nil {
			write(w, http.StatusBadRequest, codersdk.Response{
				Message:     fmt.Sprintf("Template version %q doesn't exist.", req.TemplateVersionID),
				Validations: []codersdk.ValidationError{{Field: "template_version_id", Detail: "template not found"}},
			})
			return
		}
		tid = *version.TemplateID
	}
	t := f.templates[tid]
	switch {
	case t == nil:
		write(w, http.StatusBadRequest, codersdk.Response{
			Message:     fmt.Sprintf("Template %q doesn't exist.", tid),
			Validations: []codersdk.ValidationError{{Field: "template_id", Detail: "template not found"}},
		})
		return
	case t.Deleted:
		write(w, http.StatusNotFound, codersdk.Response{Message: fmt.Sprintf("Template %q has been deleted!", t.Name)})
		return
	case !mayManageWorkspacesOf(caller(r), owner.ID):
		write(w, http.StatusForbidden, codersdk.Response{
			Message: "Unauthorized to create workspace.",
			Detail: "You are unable to create a workspace in this organization. " +
				"It is possible to have access to the template, but not be able to create a workspace. " +
				"Please contact an administrator about your permissions if you feel this is an error.",
		})
		return
	case t.Deprecated:
		write(w, http.StatusBadRequest, codersdk.Response{
			Message: fmt.Sprintf("Template %q has been deprecated, and cannot be used to create a new workspace.", t.Name),
			Detail:  t.DeprecationMessage,
		})
		return
	}
	if version == nil {
		version = f.versions[t.ActiveVersionID]
	}
	if f.workspaceByNameLocked(owner.ID, req.Name) != nil {
		write(w, http.StatusConflict, codersdk.Response{
			Message:     fmt.Sprintf("Workspace %q already exists.", req.Name),
			Validations: []codersdk.ValidationError{{Field: "name", Detail: "This value is already in use and should be unique."}},
		})
		return
	}
	preset, ok := f.buildPresetLocked(w, req.TemplateVersionPresetID)
	if !ok {
		return
	}
	params, problems := resolveParameters(version, nil, req.RichParameterValues, preset, true)
	if problems != nil {
		write(w, http.StatusBadRequest, parameterError(problems))
		return
	}
	now := time.Now().UTC()
	ws := &workspace{id: uuid.New(), owner: owner.ID, org: t.OrganizationID, template: t.ID, name: req.Name, createdAt: now}
	f.workspaces[ws.id] = ws
	f.addBuildLocked(ws, version.ID, codersdk.WorkspaceTransitionStart, caller(r).ID, params, presetID(preset))
	write(w, http.StatusCreated, f.sdkWorkspaceLocked(ws))
}

// buildPresetLocked finds the preset a request names. An id that is no
// preset's fails the insert of the build on its foreign key, which Coder
// answers with a 500 (coderd/wsbuilder/wsbuilder.go: "insert workspace
// build").
func (f *Fake) buildPresetLocked(w http.ResponseWriter, id uuid.UUID) (*codersdk.Preset, bool) {
	if id == uuid.Nil {
		return nil, true
	}
	p := f.presetLocked(id)
	if p == nil {
		write(w, http.StatusInternalServerError, codersdk.Response{Message: "insert workspace build",
			Detail: `insert or update on table "workspace_builds" violates foreign key constraint "workspace_builds_template_version_preset_id_fkey"`})
		return nil, false
	}
	return p, true
}

func presetID(p *codersdk.Preset) *uuid.UUID {
	if p == nil {
		return nil
	}
	id := p.ID
	return &id
}

// workspaceByOwnerAndName answers GET
// /api/v2/users/{user}/workspace/{workspacename}
// (coderd/workspaces.go: workspaceByOwnerAndName): the workspace that is
// not deleted, else with include_deleted=true the latest deleted one.
func (f *Fake) workspaceByOwnerAndName(w http.ResponseWriter, r *http.Request) {
	includeDeleted := false
	if s := r.URL.Query().Get("include_deleted"); s != "" {
		var err error
		if includeDeleted, err = strconv.ParseBool(s); err != nil {
			write(w, http.StatusBadRequest, codersdk.Response{
				Message:     fmt.Sprintf("Invalid boolean value %q for \"include_deleted\" query param.", s),
				Validations: []codersdk.ValidationError{{Field: "include_deleted", Detail: "Must be a valid boolean"}},
			})
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	owner := f.userParamLocked(r)
	if owner == nil || !mayManageWorkspacesOf(caller(r), owner.ID) {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	name := r.PathValue("workspacename")
	ws := f.workspaceByNameLocked(owner.ID, name)
	if ws == nil && includeDeleted {
		for _, c := range f.workspaces {
			if c.owner == owner.ID && c.deleted && strings.EqualFold(c.name, name) && (ws == nil || c.createdAt.After(ws.createdAt)) {
				ws = c
			}
		}
	}
	if ws == nil {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	write(w, http.StatusOK, f.sdkWorkspaceLocked(ws))
}

// postWorkspaceBuild answers POST /api/v2/workspaces/{workspace}/builds
// (coderd/workspacebuilds.go: postWorkspaceBuilds; coderd/wsbuilder:
// Builder.buildTx, checkRunningBuild, getParameters).
func (f *Fake) postWorkspaceBuild(w http.ResponseWriter, r *http.Request) {
	id, ok := uuidParam(w, r, "workspace")
	if !ok {
		return
	}
	f.mu.Lock()
	ws := f.workspaces[id]
	found := ws != nil && mayManageWorkspacesOf(caller(r), ws.owner)
	f.mu.Unlock()
	if !found {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	var req codersdk.CreateWorkspaceBuildRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Request body must be valid JSON.", Detail: err.Error()})
		return
	}
	switch req.Transition {
	case codersdk.WorkspaceTransitionStart, codersdk.WorkspaceTransitionStop, codersdk.WorkspaceTransitionDelete:
	case "":
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Validation failed.", Validations: []codersdk.ValidationError{
			{Field: "transition", Detail: `Validation failed for tag "required" with value: ""`}}})
		return
	default:
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Validation failed.", Validations: []codersdk.ValidationError{
			{Field: "transition", Detail: fmt.Sprintf("Validation failed for tag %q with value: \"%v\"", "oneof", req.Transition)}}})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ws.deleted && req.Transition != codersdk.WorkspaceTransitionDelete {
		write(w, http.StatusConflict, codersdk.Response{
			Message: fmt.Sprintf("Cannot %s a deleted workspace!", req.Transition),
			Detail:  "This workspace has been deleted and cannot be modified.",
		})
		return
	}
	latest := ws.builds[len(ws.builds)-1]
	versionID := latest.TemplateVersionID
	if req.TemplateVersionID != uuid.Nil {
		versionID = req.TemplateVersionID
	}
	version := f.versions[versionID]
	switch {
	case version == nil:
		write(w, http.StatusBadRequest, codersdk.Response{Message: "template version does not exist", Detail: "sql: no rows in result set"})
		return
	case version.TemplateID == nil || *version.TemplateID != ws.template:
		write(w, http.StatusBadRequest, codersdk.Response{Message: "template version doesn't match template",
			Detail: fmt.Sprintf("templateVersion.TemplateID = %v, template.ID = %s", version.TemplateID, ws.template)})
		return
	case latest.Job.Status.Active():
		msg := "A workspace build is already active."
		write(w, http.StatusConflict, codersdk.Response{Message: msg, Detail: msg})
		return
	}
	preset, ok := f.buildPresetLocked(w, req.TemplateVersionPresetID)
	if !ok {
		return
	}
	params, problems := resolveParameters(version, latest.params, req.RichParameterValues, preset, false)
	if problems != nil {
		write(w, http.StatusBadRequest, parameterError(problems))
		return
	}
	b := f.addBuildLocked(ws, version.ID, req.Transition, caller(r).ID, params, presetID(preset))
	write(w, http.StatusCreated, f.sdkBuildLocked(ws, b))
}

// buildParameters answers GET
// /api/v2/workspacebuilds/{workspacebuild}/parameters
// (coderd/workspacebuilds.go: workspaceBuildParameters).
func (f *Fake) buildParameters(w http.ResponseWriter, r *http.Request) {
	id, ok := uuidParam(w, r, "workspacebuild")
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ws := range f.workspaces {
		for _, b := range ws.builds {
			if b.ID != id {
				continue
			}
			if !mayManageWorkspacesOf(caller(r), ws.owner) {
				break
			}
			write(w, http.StatusOK, slices.Clone(b.params))
			return
		}
	}
	write(w, http.StatusNotFound, resourceNotFound)
}
