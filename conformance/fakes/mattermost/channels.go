package mattermostfake

import (
	"net/http"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
)

func (f *Fake) routeChannels(c *call, segs []string) {
	m := c.r.Method
	switch {
	case len(segs) == 0 && m == http.MethodPost:
		f.createChannel(c)
	case len(segs) == 1 && m == http.MethodGet:
		if ch := f.channel(c, segs[0]); ch != nil {
			writeJSON(c.w, http.StatusOK, ch)
		}
	case len(segs) == 2 && segs[1] == "patch" && m == http.MethodPut:
		f.patchChannel(c, segs[0])
	case len(segs) == 2 && segs[1] == "members" && m == http.MethodGet:
		f.getChannelMembers(c, segs[0])
	case len(segs) == 2 && segs[1] == "members" && m == http.MethodPost:
		f.addChannelMember(c, segs[0])
	case len(segs) == 3 && segs[1] == "members" && m == http.MethodGet:
		f.getChannelMember(c, segs[0], segs[2])
	case len(segs) == 3 && segs[1] == "members" && m == http.MethodDelete:
		f.removeChannelMember(c, segs[0], segs[2])
	default:
		writeErr(c.w, notFound())
	}
}

// channel returns the channel with id (archived ones too, as
// server/channels/app/channel.go GetChannel reads them), or answers 404
// app.channel.get.existing.app_error and returns nil.
func (f *Fake) channel(c *call, id string) *model.Channel {
	if !model.IsValidId(id) {
		writeErr(c.w, invalidURLParam("channel_id"))
		return nil
	}
	ch := f.channels[id]
	if ch == nil {
		writeErr(c.w, appErr("GetChannel", "app.channel.get.existing.app_error", "Unable to find the existing channel.", http.StatusNotFound))
		return nil
	}
	return ch
}

// channelByName finds a channel of the team by name, archived or not,
// under f.mu.
func (f *Fake) channelByName(teamID, name string) *model.Channel {
	for _, ch := range f.channels {
		if ch.TeamId == teamID && ch.Name == name {
			return ch
		}
	}
	return nil
}

// getChannelByName is GET /teams/{id}/channels/name/{name}: an archived
// channel only with include_deleted=true, 404
// app.channel.get_by_name.missing.app_error otherwise
// (server/channels/app/channel.go GetChannelByName).
func (f *Fake) getChannelByName(c *call, teamID, name string) {
	if !model.IsValidChannelIdentifier(name) { // web/context.go RequireChannelName
		writeErr(c.w, invalidURLParam("channel_name"))
		return
	}
	if f.team(c, teamID) == nil {
		return
	}
	ch := f.channelByName(teamID, name)
	if ch == nil || (ch.DeleteAt != 0 && c.r.URL.Query().Get("include_deleted") != "true") {
		writeErr(c.w, appErr("GetChannelByName", "app.channel.get_by_name.missing.app_error", "Unable to find the existing channel.", http.StatusNotFound))
		return
	}
	writeJSON(c.w, http.StatusOK, ch)
}

// createChannel is POST /channels (server/channels/api4/channel.go
// createChannel: team_id and display_name are required; app
// CreateChannelWithUser makes the caller a member and channel admin;
// store Save refuses a name the team already has, archived channels
// included, with 400 store.sql_channel.save_channel.exists.app_error).
func (f *Fake) createChannel(c *call) {
	var ch model.Channel
	if !c.decode("channel", &ch) {
		return
	}
	if ch.TeamId == "" {
		writeErr(c.w, invalidParam("team_id"))
		return
	}
	if ch.DisplayName == "" {
		writeErr(c.w, invalidParam("display_name"))
		return
	}
	if ch.Type != model.ChannelTypeOpen && ch.Type != model.ChannelTypePrivate {
		writeErr(c.w, appErr("Channel.IsValid", "model.channel.is_valid.type.app_error", "Invalid type.", http.StatusBadRequest))
		return
	}
	if !c.requireAdmin() {
		return
	}
	if f.team(c, ch.TeamId) == nil {
		return
	}
	ch.Id = ""
	ch.CreateAt = 0
	ch.DeleteAt = 0
	ch.CreatorId = c.session.Id
	ch.Name = strings.TrimSpace(ch.Name)
	ch.PreSave()
	if err := ch.IsValid(); err != nil {
		writeErr(c.w, err)
		return
	}
	if f.channelByName(ch.TeamId, ch.Name) != nil {
		writeErr(c.w, channelExists())
		return
	}
	f.channels[ch.Id] = &ch
	f.joinChannel(ch.Id, c.session.Id, true)
	writeJSON(c.w, http.StatusCreated, &ch)
}

func channelExists() *model.AppError {
	return appErr("CreateChannel", "store.sql_channel.save_channel.exists.app_error", "A channel with that name already exists on the same team.", http.StatusBadRequest)
}

// patchChannel is PUT /channels/{id}/patch.
func (f *Fake) patchChannel(c *call, id string) {
	var patch model.ChannelPatch
	if !c.decode("channel", &patch) {
		return
	}
	if !c.requireAdmin() {
		return
	}
	ch := f.channel(c, id)
	if ch == nil {
		return
	}
	next := *ch
	next.Patch(&patch)
	next.PreUpdate()
	if err := next.IsValid(); err != nil {
		writeErr(c.w, err)
		return
	}
	if o := f.channelByName(next.TeamId, next.Name); o != nil && o.Id != id {
		writeErr(c.w, channelExists())
		return
	}
	f.channels[id] = &next
	writeJSON(c.w, http.StatusOK, &next)
}

// getChannelMembers is GET /channels/{id}/members?page&per_page, ordered
// by user id.
func (f *Fake) getChannelMembers(c *call, id string) {
	if f.channel(c, id) == nil {
		return
	}
	members := f.channelMembers[id]
	var all []model.ChannelMember
	for _, uid := range sortedUserIDs(members) {
		all = append(all, *members[uid])
	}
	page, perPage := c.page()
	writeJSON(c.w, http.StatusOK, model.ChannelMembers(paginate(all, page, perPage)))
}

// getChannelMember is GET /channels/{id}/members/{user_id}
// (server/channels/api4/channel.go getChannelMember; app GetChannelMember:
// someone who is not a member gets 404
// app.channel.get_member.missing.app_error). Reading another user's
// membership takes the read_channel permission, which a system
// administrator has on every channel.
func (f *Fake) getChannelMember(c *call, id, userID string) {
	if !model.IsValidId(userID) {
		writeErr(c.w, invalidURLParam("user_id"))
		return
	}
	if c.session.Id != userID && !c.requireAdmin() {
		return
	}
	if f.channel(c, id) == nil {
		return
	}
	m := f.channelMembers[id][userID]
	if m == nil {
		writeErr(c.w, notChannelMember())
		return
	}
	writeJSON(c.w, http.StatusOK, m)
}

func notChannelMember() *model.AppError {
	return appErr("GetChannelMember", "app.channel.get_member.missing.app_error", "No channel member found for that user ID and channel ID.", http.StatusNotFound)
}

// addChannelMember is POST /channels/{id}/members with {"user_id": id}
// (server/channels/api4/channel.go addChannelMember, which answers a
// member as is; app AddChannelMember refuses a deactivated account with
// 403 app.channel.add_member.deleted_user.app_error, then AddUserToChannel
// checks the team: someone who never was in the channel's team gets 404
// app.team.get_member.missing.app_error, someone who left it 400
// api.channel.add_user.to.channel.failed.deleted.app_error; all in
// server/channels/app/channel.go).
func (f *Fake) addChannelMember(c *call, id string) {
	var props map[string]any
	if !c.decode("user_id", &props) {
		return
	}
	userID, _ := props["user_id"].(string)
	if !model.IsValidId(userID) {
		writeErr(c.w, invalidParam("user_id or user_ids"))
		return
	}
	if !c.requireAdmin() {
		return
	}
	ch := f.channel(c, id)
	if ch == nil {
		return
	}
	if ch.Type != model.ChannelTypeOpen && ch.Type != model.ChannelTypePrivate {
		writeErr(c.w, appErr("addUserToChannel", "api.channel.add_user_to_channel.type.app_error", "Can not add user to this channel type.", http.StatusBadRequest))
		return
	}
	if ch.DeleteAt != 0 {
		// Older servers' AddUserToChannel check; newer ones refuse
		// writes to archived channels before it.
		writeErr(c.w, appErr("AddUserToChannel", "api.channel.add_user_to_channel.deleted.app_error", "The channel has been archived or deleted.", http.StatusBadRequest))
		return
	}
	if m := f.channelMembers[id][userID]; m != nil {
		writeJSON(c.w, http.StatusCreated, m)
		return
	}
	u := f.users[userID]
	if u == nil {
		writeErr(c.w, missingAccount())
		return
	}
	if u.DeleteAt != 0 {
		writeErr(c.w, appErr("AddChannelMember", "app.channel.add_member.deleted_user.app_error", "Unable to add a deactivated user to the channel.", http.StatusForbidden))
		return
	}
	tm := f.teamMembers[ch.TeamId][userID]
	switch {
	case tm == nil:
		writeErr(c.w, appErr("AddUserToChannel", "app.team.get_member.missing.app_error", "No team member found for that user ID and team ID.", http.StatusNotFound))
		return
	case tm.DeleteAt != 0:
		writeErr(c.w, appErr("AddUserToChannel", "api.channel.add_user.to.channel.failed.deleted.app_error", "Failed to add user to channel because they have been removed from the team.", http.StatusBadRequest))
		return
	}
	writeJSON(c.w, http.StatusCreated, f.joinChannel(id, userID, false))
}

// joinChannel adds userID to the channel, under f.mu.
func (f *Fake) joinChannel(channelID, userID string, admin bool) *model.ChannelMember {
	members := f.channelMembers[channelID]
	if members == nil {
		members = map[string]*model.ChannelMember{}
		f.channelMembers[channelID] = members
	}
	if m := members[userID]; m != nil {
		return m
	}
	m := &model.ChannelMember{ChannelId: channelID, UserId: userID, SchemeUser: true, SchemeAdmin: admin,
		NotifyProps: model.GetDefaultChannelNotifyProps(), LastUpdateAt: model.GetMillis()}
	members[userID] = m
	return m
}

// removeChannelMember is DELETE /channels/{id}/members/{user_id}
// (server/channels/api4/channel.go removeChannelMember; app
// removeUserFromChannel: nobody leaves town-square, 400
// api.channel.remove.default.app_error; someone who is not a member gets
// 404 app.channel.get_member.missing.app_error).
func (f *Fake) removeChannelMember(c *call, id, userID string) {
	if !model.IsValidId(userID) {
		writeErr(c.w, invalidURLParam("user_id"))
		return
	}
	ch := f.channel(c, id)
	if ch == nil {
		return
	}
	if f.users[userID] == nil {
		writeErr(c.w, missingAccount())
		return
	}
	if ch.Type != model.ChannelTypeOpen && ch.Type != model.ChannelTypePrivate {
		writeErr(c.w, appErr("removeChannelMember", "api.channel.remove_channel_member.type.app_error", "Can not remove user from this channel type.", http.StatusBadRequest))
		return
	}
	if c.session.Id != userID && !c.requireAdmin() {
		return
	}
	if ch.Name == model.DefaultChannelName {
		writeErr(c.w, appErr("RemoveUserFromChannel", "api.channel.remove.default.app_error", "Unable to remove user from the default channel.", http.StatusBadRequest))
		return
	}
	if f.channelMembers[id][userID] == nil {
		writeErr(c.w, notChannelMember())
		return
	}
	delete(f.channelMembers[id], userID)
	writeOK(c.w)
}
