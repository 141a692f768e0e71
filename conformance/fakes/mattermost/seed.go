package mattermostfake

import (
	"slices"

	"github.com/mattermost/mattermost/server/public/model"
)

// AddTeam creates an open team named name, with its default channels
// (town-square and off-topic), and returns it. It fails the test when the
// name is taken or invalid.
func (f *Fake) AddTeam(name string) *model.Team {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &model.Team{Name: name, DisplayName: name, Type: model.TeamOpen, Email: "admin@example.com", AllowOpenInvite: true}
	t.PreSave()
	if err := t.IsValid(); err != nil {
		f.t.Fatalf("mattermostfake: AddTeam(%q): %v", name, err)
	}
	for _, o := range f.teams {
		if o.Name == name {
			f.t.Fatalf("mattermostfake: AddTeam(%q): the name is taken", name)
		}
	}
	f.teams[t.Id] = t
	for _, dc := range defaultChannels {
		ch := &model.Channel{TeamId: t.Id, Name: dc.name, DisplayName: dc.displayName, Type: model.ChannelTypeOpen}
		ch.PreSave()
		f.channels[ch.Id] = ch
	}
	return t
}

// AddChannel creates a channel in the team, with no member, and returns
// it. typ is model.ChannelTypeOpen or model.ChannelTypePrivate. It fails
// the test when the name is taken or invalid.
func (f *Fake) AddChannel(teamID, name, displayName string, typ model.ChannelType, purpose string) *model.Channel {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := &model.Channel{TeamId: teamID, Name: name, DisplayName: displayName, Type: typ, Purpose: purpose}
	ch.PreSave()
	if err := ch.IsValid(); err != nil {
		f.t.Fatalf("mattermostfake: AddChannel(%q): %v", name, err)
	}
	if f.teams[teamID] == nil || f.channelByName(teamID, name) != nil {
		f.t.Fatalf("mattermostfake: AddChannel(%q): no such team, or the name is taken", name)
	}
	f.channels[ch.Id] = ch
	return ch
}

// ArchiveChannel archives the channel, as an administrator does in the
// channel's menu.
func (f *Fake) ArchiveChannel(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch := f.channels[id]; ch != nil {
		next := *ch
		next.DeleteAt = model.GetMillis()
		f.channels[id] = &next
	}
}

// AddPasswordUser creates an account that signs in with a password, as
// one made on the sign-up page or by an administrator, and returns its id.
func (f *Fake) AddPasswordUser(username, email string) string {
	f.t.Helper()
	return f.mustAdd(&model.User{Username: username, Email: email, Password: "a-password-" + username, Roles: model.SystemUserRoleId})
}

// AddSSOUser creates an account bound to authService ("openid", "gitlab",
// "ldap", ...) with authData, as the user's own first single sign-on
// makes it, and returns its id.
func (f *Fake) AddSSOUser(username, email, authService, authData string) string {
	f.t.Helper()
	return f.mustAdd(&model.User{Username: username, Email: email, AuthService: authService,
		AuthData: model.NewPointer(authData), Roles: model.SystemUserRoleId})
}

// AddAdminUser creates a system administrator who signs in with a
// password and returns its id.
func (f *Fake) AddAdminUser(username, email string) string {
	f.t.Helper()
	return f.mustAdd(&model.User{Username: username, Email: email, Password: "a-password-" + username,
		Roles: model.SystemAdminRoleId + " " + model.SystemUserRoleId})
}

// AddBot creates a bot account and returns its id.
func (f *Fake) AddBot(username, email string) string {
	f.t.Helper()
	return f.mustAdd(&model.User{Username: username, Email: email, IsBot: true, AuthService: "",
		Password: "a-bot-password", Roles: model.SystemUserRoleId})
}

func (f *Fake) mustAdd(u *model.User) string {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	ru, err := f.saveUser(u)
	if err != nil {
		f.t.Fatalf("mattermostfake: adding user %q: %v", u.Username, err)
	}
	return ru.Id
}

// AddUserToken returns a new personal access token of the user.
func (f *Fake) AddUserToken(userID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := model.NewId()
	f.tokens[tok] = userID
	return tok
}

// SetActive activates or deactivates the user, as the System Console does.
func (f *Fake) SetActive(userID string, active bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.users[userID]; u != nil {
		next := u.DeepCopy()
		next.DeleteAt = 0
		if !active {
			next.DeleteAt = model.GetMillis()
		}
		f.users[userID] = next
	}
}

// SetAuth binds the user to authService with authData, as the System
// Console or mmctl does, without the API's checks.
func (f *Fake) SetAuth(userID, authService, authData string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.users[userID]; u != nil {
		next := u.DeepCopy()
		next.Password, next.AuthService, next.AuthData = "", authService, model.NewPointer(authData)
		f.users[userID] = next
	}
}

// JoinTeam makes the user a member of the team (and of its default
// channels).
func (f *Fake) JoinTeam(teamID, userID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joinTeam(teamID, userID)
}

// JoinChannel makes the user a member of the channel, without checking
// the team membership the API checks.
func (f *Fake) JoinChannel(channelID, userID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joinChannel(channelID, userID, false)
}

// User returns a copy of the user, unsanitized (AuthData and the password
// hash included), or nil.
func (f *Fake) User(id string) *model.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.users[id]; u != nil {
		return u.DeepCopy()
	}
	return nil
}

// UserByEmail returns a copy of the user with that email (compared as
// Mattermost does, lowercased), or nil.
func (f *Fake) UserByEmail(email string) *model.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	email = model.NormalizeEmail(email)
	for _, u := range f.users {
		if u.Email == email {
			return u.DeepCopy()
		}
	}
	return nil
}

// Users returns copies of every user, the administrator included, ordered
// by username.
func (f *Fake) Users() []*model.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*model.User
	for _, u := range f.users {
		out = append(out, u.DeepCopy())
	}
	slices.SortFunc(out, func(a, b *model.User) int {
		switch {
		case a.Username < b.Username:
			return -1
		case a.Username > b.Username:
			return 1
		}
		return 0
	})
	return out
}

// Team returns a copy of the team named name, or nil.
func (f *Fake) Team(name string) *model.Team {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.teams {
		if t.Name == name {
			c := *t
			return &c
		}
	}
	return nil
}

// TeamMembers returns the sorted ids of the team's members who have not
// left.
func (f *Fake) TeamMembers(teamID string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sortedUserIDs(f.activeTeamMembers(teamID))
}

// Channel returns a copy of the channel, or nil.
func (f *Fake) Channel(id string) *model.Channel {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch := f.channels[id]; ch != nil {
		c := *ch
		return &c
	}
	return nil
}

// ChannelByName returns a copy of the team's channel named name (archived
// or not), or nil.
func (f *Fake) ChannelByName(teamID, name string) *model.Channel {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch := f.channelByName(teamID, name); ch != nil {
		c := *ch
		return &c
	}
	return nil
}

// Channels returns copies of the team's channels, archived ones included,
// ordered by name.
func (f *Fake) Channels(teamID string) []*model.Channel {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*model.Channel
	for _, ch := range f.channels {
		if ch.TeamId == teamID {
			c := *ch
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *model.Channel) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// ChannelMembers returns the sorted ids of the channel's members.
func (f *Fake) ChannelMembers(channelID string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sortedUserIDs(f.channelMembers[channelID])
}
