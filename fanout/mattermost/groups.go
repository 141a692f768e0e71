package mattermost

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/scimbridge/scimbridge/fanout"
)

// channelPurpose tells Mattermost's users where a created channel's
// members come from; groupMark follows it.
const channelPurpose = "Managed by scimbridge: members follow an identity provider group."

// pageSize is Mattermost's largest page (server/channels/web/params.go).
const pageSize = 200

// maxPages stops a listing that never ends.
const maxPages = 10000

// idsPerRequest bounds the user ids sent in one request.
const idsPerRequest = 100

// groupMark is written at the end of the purpose of a channel the
// connector created or adopted, to record which SCIM group owns it, so
// that two groups whose names map to the same channel never share it.
func groupMark(groupID string) string { return "[scim group " + groupID + "]" }

// markedGroup returns the SCIM group id of the mark in a purpose, or "".
func markedGroup(purpose string) string {
	i := strings.LastIndex(purpose, "[scim group ")
	if i < 0 || !strings.HasSuffix(purpose, "]") {
		return ""
	}
	return purpose[i+len("[scim group ") : len(purpose)-1]
}

// markPurpose appends groupID's mark to purpose, shortening purpose to
// keep within Mattermost's limit.
func markPurpose(purpose, groupID string) string {
	mark := groupMark(groupID)
	purpose = strings.TrimSpace(purpose)
	if purpose == "" {
		return mark
	}
	return truncateRunes(purpose, maxChannelPurposeLen-len([]rune(mark))-1) + " " + mark
}

// EnsureGroup converges g (see the package documentation): its members
// join Team and, with groupChannels, the group's channel, which is found
// by the id of last time or by name, created, renamed, and given exactly
// g's members that have an account. On g.Deleted the channel is emptied
// and kept. The result's RemoteID is the channel's id, or Team's without
// groupChannels. It is idempotent; a group whose name maps to town-square,
// to another group's channel or to an archived channel gives a terminal
// error.
func (c *Connector) EnsureGroup(ctx context.Context, g fanout.Group) (fanout.Result, error) {
	team, err := c.team(ctx)
	if err != nil {
		return fanout.Result{}, err
	}
	want := c.wantedMembers(ctx, g)
	if !c.cfg.GroupChannels {
		if g.Deleted {
			return fanout.Result{RemoteID: team.Id}, nil // team membership is never taken away by a group
		}
		joined, err := c.joinTeam(ctx, team, want)
		if err != nil {
			return fanout.Result{}, err
		}
		return fanout.Result{RemoteID: team.Id, Note: memberNote("team "+team.Name, joined, nil)}, nil
	}

	name := channelName(g.DisplayName)
	if !g.Deleted && name == model.DefaultChannelName {
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("mattermost: group %q maps to channel %q, the team's default channel that nobody may leave; rename the group", g.DisplayName, name))
	}
	ch, adopted, err := c.findChannel(ctx, team, g, name)
	if err != nil {
		return fanout.Result{}, err
	}
	if g.Deleted {
		if ch == nil {
			return fanout.Result{}, nil // nothing was ever provisioned
		}
		added, removed, err := c.syncChannel(ctx, team, ch, nil)
		if err != nil {
			return fanout.Result{}, err
		}
		return fanout.Result{RemoteID: ch.Id, Note: memberNote("channel "+ch.Name, added, removed)}, nil
	}

	var notes []string
	display := channelDisplayName(g.DisplayName, name)
	if ch == nil {
		var created bool
		ch, created, err = c.createChannel(ctx, team, g, name, display)
		if err != nil {
			return fanout.Result{}, err
		}
		if created {
			notes = append(notes, "created channel "+ch.Name)
			c.log.InfoContext(ctx, "created channel", "group", g.DisplayName, "channel", ch.Name, "channel_id", ch.Id)
		}
		adopted = !created
	}
	if ch.DeleteAt != 0 {
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("mattermost: group %q: channel %q (%s) is archived; unarchive it, or rename the group", g.DisplayName, ch.Name, ch.Id))
	}
	switch {
	case adopted:
		if g.ID != "" && markedGroup(ch.Purpose) != g.ID {
			purpose := markPurpose(ch.Purpose, g.ID)
			if err := c.patchChannel(ctx, ch, &model.ChannelPatch{Purpose: &purpose}); err != nil {
				return fanout.Result{}, err
			}
		}
		notes = append(notes, "adopted existing channel "+ch.Name)
		c.log.InfoContext(ctx, "adopted channel", "group", g.DisplayName, "channel", ch.Name, "channel_id", ch.Id)
	case ch.DisplayName != display:
		old := ch.DisplayName
		if err := c.patchChannel(ctx, ch, &model.ChannelPatch{DisplayName: &display}); err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, fmt.Sprintf("renamed channel %s from %q to %q", ch.Name, old, display))
	}

	added, removed, err := c.syncChannel(ctx, team, ch, want)
	if err != nil {
		return fanout.Result{}, err
	}
	if n := memberNote("channel "+ch.Name, added, removed); n != "" {
		notes = append(notes, n)
	}
	return fanout.Result{RemoteID: ch.Id, Note: strings.Join(notes, "; ")}, nil
}

// wantedMembers returns g's members that have an account, by user id,
// with their usernames for notes. A deleted group wants nobody.
func (c *Connector) wantedMembers(ctx context.Context, g fanout.Group) map[string]string {
	want := map[string]string{}
	if g.Deleted {
		return want
	}
	for _, m := range g.Members {
		switch {
		case m.RemoteID == "":
			// Not provisioned yet; its own pass comes first.
		case !model.IsValidId(m.RemoteID):
			c.log.WarnContext(ctx, "skipping member with a bad link", "group", g.DisplayName, "member", m.UserName, "remote_id", m.RemoteID)
		default:
			want[m.RemoteID] = m.UserName
		}
	}
	return want
}

// memberNote says whom a pass added to and removed from where, in name
// order.
func memberNote(where string, added, removed []string) string {
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "added "+strings.Join(slices.Sorted(slices.Values(added)), ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed "+strings.Join(slices.Sorted(slices.Values(removed)), ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %s", where, strings.Join(parts, "; "))
}

// findChannel returns g's channel: the one of last time (by id) if it is
// still in Team, else, unless g is deleted, the team's channel named name,
// archived or not. adopted is true for a channel found by name that was
// not g's before; one that carries another group's mark is refused.
func (c *Connector) findChannel(ctx context.Context, team *model.Team, g fanout.Group, name string) (ch *model.Channel, adopted bool, err error) {
	if model.IsValidId(g.RemoteID) {
		err := c.call(ctx, "get channel "+g.RemoteID, func(ctx context.Context) (resp *model.Response, err error) {
			ch, resp, err = c.api.GetChannel(ctx, g.RemoteID)
			return resp, err
		})
		switch {
		case isNotFound(err):
			ch = nil // deleted in Mattermost
		case err != nil:
			return nil, false, err
		case ch.TeamId != team.Id:
			ch = nil // the team changed in the configuration
		default:
			return ch, false, nil
		}
	}
	if g.Deleted {
		return nil, false, nil // never adopt a channel only to empty it
	}
	ch, err = c.channelByName(ctx, team, name)
	if err != nil || ch == nil {
		return nil, false, err
	}
	if owner := markedGroup(ch.Purpose); owner != "" && owner != g.ID {
		return nil, false, fanout.Terminal(fmt.Errorf("mattermost: group %q maps to channel %q, which belongs to scim group %s; rename one of the groups", g.DisplayName, ch.Name, owner))
	}
	return ch, g.RemoteID != ch.Id, nil
}

// channelByName returns the team's channel named name, archived or not,
// or nil.
func (c *Connector) channelByName(ctx context.Context, team *model.Team, name string) (*model.Channel, error) {
	var ch *model.Channel
	err := c.call(ctx, fmt.Sprintf("find channel %q", name), func(ctx context.Context) (resp *model.Response, err error) {
		ch, resp, err = c.api.GetChannelByNameIncludeDeleted(ctx, name, team.Id, "")
		return resp, err
	})
	if isNotFound(err) {
		return nil, nil
	}
	return ch, err
}

// createChannel creates g's channel. When Mattermost answers that the
// team has a channel of that name (made since findChannel looked), that
// channel is returned, created false, unless it belongs to another group.
func (c *Connector) createChannel(ctx context.Context, team *model.Team, g fanout.Group, name, display string) (ch *model.Channel, created bool, err error) {
	typ := model.ChannelTypePrivate
	if c.cfg.ChannelType == ChannelPublic {
		typ = model.ChannelTypeOpen
	}
	purpose := channelPurpose
	if g.ID != "" {
		purpose = markPurpose(channelPurpose, g.ID)
	}
	want := &model.Channel{TeamId: team.Id, Name: name, DisplayName: display, Type: typ, Purpose: purpose}
	err = c.call(ctx, fmt.Sprintf("create channel %q", name), func(ctx context.Context) (resp *model.Response, err error) {
		ch, resp, err = c.api.CreateChannel(ctx, want)
		return resp, err
	})
	if isAppError(err, idChannelExists) {
		again, ferr := c.channelByName(ctx, team, name)
		if ferr != nil {
			return nil, false, ferr
		}
		if again != nil {
			if owner := markedGroup(again.Purpose); owner != "" && owner != g.ID {
				return nil, false, fanout.Terminal(fmt.Errorf("mattermost: group %q maps to channel %q, which belongs to scim group %s; rename one of the groups", g.DisplayName, again.Name, owner))
			}
			return again, false, nil
		}
	}
	if err != nil {
		return nil, false, err
	}
	return ch, true, nil
}

func (c *Connector) patchChannel(ctx context.Context, ch *model.Channel, patch *model.ChannelPatch) error {
	var next *model.Channel
	err := c.call(ctx, fmt.Sprintf("edit channel %q", ch.Name), func(ctx context.Context) (resp *model.Response, err error) {
		next, resp, err = c.api.PatchChannel(ctx, ch.Id, patch)
		return resp, err
	})
	if err == nil && next != nil {
		*ch = *next
	}
	return err
}

// channelMembers lists the ids of every member of the channel.
func (c *Connector) channelMembers(ctx context.Context, ch *model.Channel) (map[string]bool, error) {
	have := map[string]bool{}
	for page := range maxPages {
		var members model.ChannelMembers
		err := c.call(ctx, fmt.Sprintf("list members of channel %q", ch.Name), func(ctx context.Context) (resp *model.Response, err error) {
			members, resp, err = c.api.GetChannelMembers(ctx, ch.Id, page, pageSize, "")
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			have[m.UserId] = true
		}
		if len(members) < pageSize {
			return have, nil
		}
	}
	return nil, fmt.Errorf("mattermost: list members of channel %q: more than %d pages", ch.Name, maxPages)
}

// syncChannel makes the channel's members exactly want (user ids, with
// usernames) and returns whom it added and removed. Whoever it adds joins
// the team first, as Mattermost requires.
func (c *Connector) syncChannel(ctx context.Context, team *model.Team, ch *model.Channel, want map[string]string) (added, removed []string, err error) {
	have, err := c.channelMembers(ctx, ch)
	if err != nil {
		return nil, nil, err
	}
	var toAdd []string
	for id := range want {
		if !have[id] {
			toAdd = append(toAdd, id)
		}
	}
	slices.Sort(toAdd)
	if len(toAdd) > 0 {
		adding := make(map[string]string, len(toAdd))
		for _, id := range toAdd {
			adding[id] = want[id]
		}
		if _, err := c.joinTeam(ctx, team, adding); err != nil {
			return nil, nil, err
		}
	}
	for _, id := range toAdd {
		err := c.call(ctx, fmt.Sprintf("add %s to channel %q", label(id, want), ch.Name), func(ctx context.Context) (resp *model.Response, err error) {
			_, resp, err = c.api.AddChannelMember(ctx, ch.Id, id)
			return resp, err
		})
		switch {
		case isAppError(err, idMissingAccount):
			// Deleted in Mattermost: the user's own pass recreates it,
			// and the group's next pass adds it.
			c.log.WarnContext(ctx, "skipping member without an account", "channel", ch.Name, "account_id", id)
			continue
		case isAppError(err, idDeactivated):
			// Mattermost gives a deactivated account no new channel; the
			// group's first pass after the user is active again adds it.
			c.log.InfoContext(ctx, "skipping deactivated member", "channel", ch.Name, "account_id", id)
			continue
		case err != nil:
			return added, removed, err
		}
		added = append(added, label(id, want))
	}
	for _, id := range sortedKeys(have) {
		if _, ok := want[id]; ok {
			continue
		}
		err := c.call(ctx, fmt.Sprintf("remove %s from channel %q", id, ch.Name), func(ctx context.Context) (*model.Response, error) {
			return c.api.RemoveUserFromChannel(ctx, ch.Id, id)
		})
		if err != nil && !isAppError(err, idNotChannelMember) && !isAppError(err, idMissingAccount) {
			return added, removed, err
		}
		removed = append(removed, "user "+id)
	}
	return added, removed, nil
}

// joinTeam makes want's users (ids, with usernames) members of the team,
// and returns those it added. Users without an account are skipped.
func (c *Connector) joinTeam(ctx context.Context, team *model.Team, want map[string]string) ([]string, error) {
	ids := sortedKeys(want)
	member := map[string]bool{}
	for chunk := range slices.Chunk(ids, idsPerRequest) {
		var members []*model.TeamMember
		err := c.call(ctx, fmt.Sprintf("read members of team %q", team.Name), func(ctx context.Context) (resp *model.Response, err error) {
			members, resp, err = c.api.GetTeamMembersByIds(ctx, team.Id, chunk)
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			if m.DeleteAt == 0 {
				member[m.UserId] = true
			}
		}
	}
	var joined []string
	for _, id := range ids {
		if member[id] {
			continue
		}
		err := c.call(ctx, fmt.Sprintf("add %s to team %q", label(id, want), team.Name), func(ctx context.Context) (resp *model.Response, err error) {
			_, resp, err = c.api.AddTeamMember(ctx, team.Id, id)
			return resp, err
		})
		switch {
		case isAppError(err, idMissingAccount):
			c.log.WarnContext(ctx, "skipping member without an account", "team", team.Name, "account_id", id)
			continue
		case err != nil:
			return joined, err
		}
		joined = append(joined, label(id, want))
	}
	return joined, nil
}

// label names a user in notes: the SCIM userName when known, else the id.
func label(id string, names map[string]string) string {
	if n := names[id]; n != "" {
		return n
	}
	return "user " + id
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
