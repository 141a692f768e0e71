package coderfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"
)

// groupParamLocked finds the {group} of the path by id
// (coderd/httpmw/groupparam.go: ExtractGroupParam). It writes the answer
// and returns nil when there is none.
func (f *Fake) groupParamLocked(w http.ResponseWriter, r *http.Request) *group {
	raw := r.PathValue("group")
	id, err := uuid.Parse(raw)
	if err != nil {
		// coderd/httpmw/httpmw.go: ParseUUIDParam.
		write(w, http.StatusBadRequest, codersdk.Response{Message: fmt.Sprintf("Invalid UUID %q.", raw), Detail: err.Error()})
		return nil
	}
	g := f.groupLocked(id)
	if g == nil {
		write(w, http.StatusNotFound, resourceNotFound)
	}
	return g
}

// postGroup answers POST /api/v2/organizations/{organization}/groups
// (enterprise/coderd/groups.go: postGroupByOrganization).
func (f *Fake) postGroup(w http.ResponseWriter, r *http.Request) {
	var req codersdk.CreateGroupRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Request body must be valid JSON.", Detail: err.Error()})
		return
	}
	var errs []codersdk.ValidationError
	fail := func(field, tag, value string) {
		errs = append(errs, codersdk.ValidationError{Field: field,
			Detail: fmt.Sprintf("Validation failed for tag %q with value: \"%v\"", tag, value)})
	}
	switch {
	case req.Name == "":
		fail("name", "required", req.Name)
	case codersdk.GroupNameValid(req.Name) != nil:
		fail("name", "group_name", req.Name)
	}
	if req.DisplayName != "" && codersdk.DisplayNameValid(req.DisplayName) != nil {
		fail("display_name", "group_display_name", req.DisplayName)
	}
	if len(errs) > 0 {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Validation failed.", Validations: errs})
		return
	}
	if req.Name == everyoneGroup {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Invalid group name.",
			Validations: []codersdk.ValidationError{{Field: "name", Detail: fmt.Sprintf("%q is a reserved group name", req.Name)}}})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgParamLocked(r)
	if o == nil {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	// The groups table is unique on (name, organization_id), with case.
	for _, g := range f.groups {
		if g.OrganizationID == o.ID && g.Name == req.Name {
			write(w, http.StatusConflict, codersdk.Response{
				Message:     fmt.Sprintf("A group named %q already exists.", req.Name),
				Validations: []codersdk.ValidationError{{Field: "name", Detail: "Group names must be unique"}},
			})
			return
		}
	}
	g := &group{Group: codersdk.Group{
		ID: uuid.New(), Name: req.Name, DisplayName: req.DisplayName, OrganizationID: o.ID,
		AvatarURL: req.AvatarURL, QuotaAllowance: req.QuotaAllowance, Source: codersdk.GroupSourceUser,
		OrganizationName: o.Name, OrganizationDisplayName: o.DisplayName,
	}, members: map[uuid.UUID]bool{}}
	f.groups[g.ID] = g
	write(w, http.StatusCreated, f.sdkGroupLocked(g, true))
}

// orgGroups answers GET /api/v2/organizations/{organization}/groups.
func (f *Fake) orgGroups(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgParamLocked(r)
	if o == nil {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	out := []codersdk.Group{}
	for _, g := range f.allGroupsLocked() {
		if g.OrganizationID == o.ID {
			out = append(out, f.sdkGroupLocked(g, true))
		}
	}
	write(w, http.StatusOK, out)
}

// groupByName answers GET
// /api/v2/organizations/{organization}/groups/{groupName}: the name is
// compared with case (coderd/database/queries/groups.sql:
// GetGroupByOrgAndName).
func (f *Fake) groupByName(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgParamLocked(r)
	if o == nil {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	name := r.PathValue("groupName")
	for _, g := range f.allGroupsLocked() {
		if g.OrganizationID == o.ID && g.Name == name {
			write(w, http.StatusOK, f.sdkGroupLocked(g, true))
			return
		}
	}
	write(w, http.StatusNotFound, resourceNotFound)
}

// listGroups answers GET /api/v2/groups with the organization,
// has_member and group_ids filters (enterprise/coderd/groups.go: groups).
func (f *Fake) listGroups(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	var errs []codersdk.ValidationError
	var orgID, memberID uuid.UUID
	var ids []uuid.UUID
	for k, vs := range q {
		v := vs[0]
		switch k {
		case "organization":
			if id, err := uuid.Parse(v); err == nil {
				orgID = id
			} else if o := f.orgParamByNameLocked(v); o != nil {
				orgID = o.ID
			} else {
				errs = append(errs, codersdk.ValidationError{Field: k, Detail: fmt.Sprintf("Query param %q must be a valid uuid or name: organization %q not found", k, v)})
			}
		case "has_member":
			if id, err := uuid.Parse(v); err == nil {
				memberID = id
			} else if u := f.byUsernameLocked(v); u != nil {
				memberID = u.ID
			} else {
				errs = append(errs, codersdk.ValidationError{Field: k, Detail: fmt.Sprintf("Query param %q must be a valid uuid or name: user %q not found", k, v)})
			}
		case "group_ids":
			for s := range strings.SplitSeq(v, ",") {
				id, err := uuid.Parse(strings.TrimSpace(s))
				if err != nil {
					errs = append(errs, codersdk.ValidationError{Field: k, Detail: fmt.Sprintf("Query param %q must be a valid uuid", k)})
					break
				}
				ids = append(ids, id)
			}
		default:
			errs = append(errs, codersdk.ValidationError{Field: k, Detail: fmt.Sprintf("%q is not a valid query param", k)})
		}
	}
	if len(errs) > 0 {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Query parameters have invalid values.", Validations: errs})
		return
	}
	out := []codersdk.Group{}
	for _, g := range f.allGroupsLocked() {
		if orgID != uuid.Nil && g.OrganizationID != orgID {
			continue
		}
		if memberID != uuid.Nil && !g.members[memberID] {
			continue
		}
		if len(ids) > 0 && !slices.Contains(ids, g.ID) {
			continue
		}
		out = append(out, f.sdkGroupLocked(g, true))
	}
	write(w, http.StatusOK, out)
}

func (f *Fake) orgParamByNameLocked(name string) *organization {
	for _, o := range f.orgs {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// getGroup answers GET /api/v2/groups/{group}, with every member unless
// exclude_members is true (enterprise/coderd/groups.go: group).
func (f *Fake) getGroup(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groupParamLocked(w, r)
	if g == nil {
		return
	}
	exclude, _ := strconv.ParseBool(r.URL.Query().Get("exclude_members"))
	write(w, http.StatusOK, f.sdkGroupLocked(g, !exclude))
}

// patchGroup answers PATCH /api/v2/groups/{group}
// (enterprise/coderd/groups.go: patchGroup): rename, display name, add
// and remove members. Members added must be members of the group's
// organization; adding a member twice is refused.
func (f *Fake) patchGroup(w http.ResponseWriter, r *http.Request) {
	var req codersdk.PatchGroupRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Request body must be valid JSON.", Detail: err.Error()})
		return
	}
	var errs []codersdk.ValidationError
	if req.Name != "" && codersdk.GroupNameValid(req.Name) != nil {
		errs = append(errs, codersdk.ValidationError{Field: "name",
			Detail: fmt.Sprintf("Validation failed for tag %q with value: \"%v\"", "group_name", req.Name)})
	}
	if req.DisplayName != nil && *req.DisplayName != "" && codersdk.DisplayNameValid(*req.DisplayName) != nil {
		errs = append(errs, codersdk.ValidationError{Field: "display_name",
			Detail: fmt.Sprintf("Validation failed for tag %q with value: \"%v\"", "group_display_name", *req.DisplayName)})
	}
	if len(errs) > 0 {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Validation failed.", Validations: errs})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groupParamLocked(w, r)
	if g == nil {
		return
	}
	if req.Name == g.Name {
		req.Name = ""
	}
	everyone := g.ID == g.OrganizationID
	switch {
	case everyone && req.Name != "":
		write(w, http.StatusBadRequest, codersdk.Response{Message: fmt.Sprintf("Cannot rename the %q group!", everyoneGroup)})
		return
	case everyone && req.DisplayName != nil && *req.DisplayName != "":
		write(w, http.StatusBadRequest, codersdk.Response{Message: fmt.Sprintf("Cannot update the Display Name for the %q group!", everyoneGroup)})
		return
	case req.Name == everyoneGroup:
		write(w, http.StatusBadRequest, codersdk.Response{Message: fmt.Sprintf("%q is a reserved group name!", everyoneGroup)})
		return
	case everyone && len(req.AddUsers)+len(req.RemoveUsers) > 0:
		write(w, http.StatusForbidden, codersdk.Response{Message: fmt.Sprintf("Cannot add or remove users from the %q group!", everyoneGroup)})
		return
	}
	users := append(slices.Clone(req.AddUsers), req.RemoveUsers...)
	for _, raw := range users {
		id, err := uuid.Parse(raw)
		if err != nil {
			write(w, http.StatusBadRequest, codersdk.Response{Message: fmt.Sprintf("ID %q must be a valid user UUID.", raw)})
			return
		}
		if u, ok := f.users[id]; !ok || u.deleted || !slices.Contains(u.OrganizationIDs, g.OrganizationID) {
			// Coder names the group where it means the organization.
			write(w, http.StatusBadRequest, codersdk.Response{Message: fmt.Sprintf("User must be a member of organization %q", g.Name)})
			return
		}
	}
	if req.Name != "" {
		for _, other := range f.groups {
			if other.OrganizationID == g.OrganizationID && other.Name == req.Name {
				write(w, http.StatusConflict, codersdk.Response{Message: fmt.Sprintf("A group with name %q already exists.", req.Name)})
				return
			}
		}
	}
	// One transaction: everything or nothing.
	for _, raw := range req.AddUsers {
		if g.members[uuid.MustParse(raw)] {
			write(w, http.StatusBadRequest, codersdk.Response{Message: "Cannot add the same user to a group twice!",
				Detail: `pq: duplicate key value violates unique constraint "group_members_user_id_group_id_key"`})
			return
		}
	}
	if req.Name != "" {
		g.Name = req.Name
	}
	if req.DisplayName != nil {
		g.DisplayName = *req.DisplayName
	}
	if req.AvatarURL != nil {
		g.AvatarURL = *req.AvatarURL
	}
	if req.QuotaAllowance != nil {
		g.QuotaAllowance = *req.QuotaAllowance
	}
	for _, raw := range req.AddUsers {
		g.members[uuid.MustParse(raw)] = true
	}
	for _, raw := range req.RemoveUsers {
		delete(g.members, uuid.MustParse(raw))
	}
	write(w, http.StatusOK, f.sdkGroupLocked(g, true))
}

// deleteGroup answers DELETE /api/v2/groups/{group}.
func (f *Fake) deleteGroup(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groupParamLocked(w, r)
	if g == nil {
		return
	}
	if g.ID == g.OrganizationID {
		write(w, http.StatusBadRequest, codersdk.Response{Message: fmt.Sprintf("%q is a reserved group and cannot be deleted!", everyoneGroup)})
		return
	}
	delete(f.groups, g.ID)
	write(w, http.StatusOK, codersdk.Response{Message: "Successfully deleted group!"})
}
