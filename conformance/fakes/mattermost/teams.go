package mattermostfake

import (
	"net/http"

	"github.com/mattermost/mattermost/server/public/model"
)

// defaultChannels are the channels every team gets and every new member
// joins (server/channels/app/teams/teams.go createDefaultChannels; app
// JoinDefaultChannels).
var defaultChannels = []struct{ name, displayName string }{
	{model.DefaultChannelName, "Town Square"},
	{"off-topic", "Off-Topic"},
}

func (f *Fake) routeTeams(c *call, segs []string) {
	m := c.r.Method
	switch {
	case len(segs) == 2 && segs[0] == "name" && m == http.MethodGet:
		f.getTeamByName(c, segs[1])
	case len(segs) == 1 && m == http.MethodGet:
		if t := f.team(c, segs[0]); t != nil {
			writeJSON(c.w, http.StatusOK, t)
		}
	case len(segs) == 2 && segs[1] == "members" && m == http.MethodGet:
		f.getTeamMembers(c, segs[0])
	case len(segs) == 2 && segs[1] == "members" && m == http.MethodPost:
		f.addTeamMember(c, segs[0])
	case len(segs) == 3 && segs[1] == "members" && segs[2] == "ids" && m == http.MethodPost:
		f.getTeamMembersByIDs(c, segs[0])
	case len(segs) == 3 && segs[1] == "members" && m == http.MethodGet:
		f.getTeamMember(c, segs[0], segs[2])
	case len(segs) == 3 && segs[1] == "members" && m == http.MethodDelete:
		f.removeTeamMember(c, segs[0], segs[2])
	case len(segs) == 4 && segs[1] == "channels" && segs[2] == "name" && m == http.MethodGet:
		f.getChannelByName(c, segs[0], segs[3])
	default:
		writeErr(c.w, notFound())
	}
}

// team returns the team with id, or answers 400 for a malformed id and
// 404 app.team.get.find.app_error for an unknown one (server/channels/app/team.go
// GetTeam) and returns nil.
func (f *Fake) team(c *call, id string) *model.Team {
	if !model.IsValidId(id) {
		writeErr(c.w, invalidURLParam("team_id"))
		return nil
	}
	t := f.teams[id]
	if t == nil {
		writeErr(c.w, appErr("GetTeam", "app.team.get.find.app_error", "Unable to find the existing team.", http.StatusNotFound))
		return nil
	}
	return t
}

// getTeamByName is GET /teams/name/{name}: 404
// app.team.get_by_name.missing.app_error when there is none
// (server/channels/app/team.go GetTeamByName).
func (f *Fake) getTeamByName(c *call, name string) {
	if !model.IsValidTeamName(name) {
		writeErr(c.w, invalidURLParam("team_name"))
		return
	}
	for _, t := range f.teams {
		if t.Name == name {
			writeJSON(c.w, http.StatusOK, t)
			return
		}
	}
	writeErr(c.w, appErr("GetTeamByName", "app.team.get_by_name.missing.app_error", "Unable to find the existing team.", http.StatusNotFound))
}

// activeTeamMembers returns the team's members that have not left, by
// user id.
func (f *Fake) activeTeamMembers(teamID string) map[string]*model.TeamMember {
	out := map[string]*model.TeamMember{}
	for id, m := range f.teamMembers[teamID] {
		if m.DeleteAt == 0 {
			out[id] = m
		}
	}
	return out
}

// getTeamMembers is GET /teams/{id}/members?page&per_page: the members
// who have not left, ordered by user id.
func (f *Fake) getTeamMembers(c *call, teamID string) {
	if f.team(c, teamID) == nil {
		return
	}
	members := f.activeTeamMembers(teamID)
	var all []*model.TeamMember
	for _, id := range sortedUserIDs(members) {
		all = append(all, members[id])
	}
	page, perPage := c.page()
	writeJSON(c.w, http.StatusOK, paginate(all, page, perPage))
}

// getTeamMember is GET /teams/{id}/members/{user_id}
// (server/channels/api4/team.go getTeamMember; app GetTeamMember reads the
// row whether or not the user left the team, so one who left is answered
// with delete_at set; someone who never joined gets 404
// app.team.get_member.missing.app_error).
func (f *Fake) getTeamMember(c *call, teamID, userID string) {
	if !model.IsValidId(userID) {
		writeErr(c.w, invalidURLParam("user_id"))
		return
	}
	if f.team(c, teamID) == nil {
		return
	}
	m := f.teamMembers[teamID][userID]
	if m == nil {
		writeErr(c.w, appErr("GetTeamMember", "app.team.get_member.missing.app_error", "No team member found for that user ID and team ID.", http.StatusNotFound))
		return
	}
	writeJSON(c.w, http.StatusOK, m)
}

// getTeamMembersByIDs is POST /teams/{id}/members/ids with a JSON array of
// user ids: the members among them who have not left.
func (f *Fake) getTeamMembersByIDs(c *call, teamID string) {
	var ids []string
	if !c.decode("user_ids", &ids) {
		return
	}
	if len(ids) == 0 {
		writeErr(c.w, invalidParam("user_ids"))
		return
	}
	if f.team(c, teamID) == nil {
		return
	}
	members := f.activeTeamMembers(teamID)
	out := []*model.TeamMember{}
	for _, id := range ids {
		if m, ok := members[id]; ok {
			out = append(out, m)
		}
	}
	writeJSON(c.w, http.StatusOK, out)
}

// addTeamMember is POST /teams/{id}/members with a TeamMember
// (server/channels/api4/team.go addTeamMember; teams.JoinUserToTeam: a
// member is answered as is, one who left is brought back; a new member
// joins the team's default channels). Mattermost does not refuse a
// deactivated user here.
func (f *Fake) addTeamMember(c *call, teamID string) {
	var tm model.TeamMember
	if !c.decode("team_member", &tm) {
		return
	}
	if tm.TeamId != teamID {
		writeErr(c.w, invalidParam("team_id"))
		return
	}
	if !model.IsValidId(tm.UserId) {
		writeErr(c.w, invalidParam("user_id"))
		return
	}
	if !c.requireAdmin() {
		return
	}
	if f.team(c, teamID) == nil {
		return
	}
	if f.users[tm.UserId] == nil {
		writeErr(c.w, missingAccount())
		return
	}
	writeJSON(c.w, http.StatusCreated, f.joinTeam(teamID, tm.UserId))
}

// joinTeam makes userID a member of the team, under f.mu.
func (f *Fake) joinTeam(teamID, userID string) *model.TeamMember {
	members := f.teamMembers[teamID]
	if members == nil {
		members = map[string]*model.TeamMember{}
		f.teamMembers[teamID] = members
	}
	if m := members[userID]; m != nil && m.DeleteAt == 0 {
		return m
	}
	m := &model.TeamMember{TeamId: teamID, UserId: userID, SchemeUser: true, CreateAt: model.GetMillis()}
	members[userID] = m
	for _, dc := range defaultChannels {
		if ch := f.channelByName(teamID, dc.name); ch != nil && ch.DeleteAt == 0 {
			f.joinChannel(ch.Id, userID, false)
		}
	}
	return m
}

// removeTeamMember is DELETE /teams/{id}/members/{user_id}
// (server/channels/app/team.go LeaveTeam: someone who is not a member gets
// 400 api.team.remove_user_from_team.missing.app_error; leaving a team
// also leaves every channel of it; the membership is kept with DeleteAt
// set).
func (f *Fake) removeTeamMember(c *call, teamID, userID string) {
	if !model.IsValidId(userID) {
		writeErr(c.w, invalidURLParam("user_id"))
		return
	}
	if c.session.Id != userID && !c.requireAdmin() {
		return
	}
	if f.team(c, teamID) == nil {
		return
	}
	if f.users[userID] == nil {
		writeErr(c.w, missingAccount())
		return
	}
	if !f.leaveTeam(teamID, userID) {
		writeErr(c.w, appErr("LeaveTeam", "api.team.remove_user_from_team.missing.app_error", "The user does not appear to be part of this team.", http.StatusBadRequest))
		return
	}
	writeOK(c.w)
}

// leaveTeam removes userID from the team and its channels, under f.mu,
// and reports whether they were a member.
func (f *Fake) leaveTeam(teamID, userID string) bool {
	m := f.teamMembers[teamID][userID]
	if m == nil || m.DeleteAt != 0 {
		return false
	}
	left := *m
	left.DeleteAt = model.GetMillis()
	left.Roles = ""
	f.teamMembers[teamID][userID] = &left
	for id, ch := range f.channels {
		if ch.TeamId == teamID {
			delete(f.channelMembers[id], userID)
		}
	}
	return true
}
