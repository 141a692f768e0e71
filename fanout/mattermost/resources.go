package mattermost

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/formulas"
)

var _ fanout.ResourceConnector = (*Connector)(nil)

// channelKind is the Kind of the plan changes of formula channels.
const channelKind = "channel"

// formulaPurpose is the purpose of a channel made for a formula; it says
// where the channel came from, and carries no group mark.
func formulaPurpose(src string) string {
	return truncateRunes("Created by scimbridge for formula "+src+".", maxChannelPurposeLen)
}

// policy is p with its default: "" is suspend.
func policy(p formulas.RemovePolicy) formulas.RemovePolicy {
	if p == "" {
		return formulas.OnRemoveSuspend
	}
	return p
}

// join is what giving the user one wanted channel takes, as read from
// Mattermost.
type join struct {
	res  formulas.Channel
	team *model.Team
	// ch is the channel, nil when it is to be created.
	ch *model.Channel
	// joinTeam and joinChannel say which memberships the user lacks.
	joinTeam, joinChannel bool
}

func (j *join) needed() bool { return j.ch == nil || j.joinTeam || j.joinChannel }

// leave is what taking the user out of one channel no formula asks for
// any more takes.
type leave struct {
	res formulas.Channel
	// keep is why the membership stays ("" when it goes): the policy is
	// keep, or the channel is one nobody may leave.
	keep string
	// ch is the channel to leave; nil when there is nothing to do.
	ch *model.Channel
}

// reader reads what one pass needs of Mattermost, each team once.
type reader struct {
	c     *Connector
	u     fanout.User
	teams map[string]*model.Team // by name; nil: no such team
}

func (c *Connector) reader(u fanout.User) *reader {
	return &reader{c: c, u: u, teams: map[string]*model.Team{}}
}

// team returns the team named name, or nil when there is none.
func (r *reader) team(ctx context.Context, name string) (*model.Team, error) {
	if t, ok := r.teams[name]; ok {
		return t, nil
	}
	var team *model.Team
	err := r.c.call(ctx, fmt.Sprintf("get team %q", name), func(ctx context.Context) (resp *model.Response, err error) {
		team, resp, err = r.c.api.GetTeamByName(ctx, name, "")
		return resp, err
	})
	if isNotFound(err) {
		team, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.teams[name] = team
	return team, nil
}

// inTeam reports whether the user is a member of team who has not left it.
func (r *reader) inTeam(ctx context.Context, team *model.Team) (bool, error) {
	var m *model.TeamMember
	err := r.c.call(ctx, fmt.Sprintf("read membership of %s in team %q", r.u.UserName, team.Name), func(ctx context.Context) (resp *model.Response, err error) {
		m, resp, err = r.c.api.GetTeamMember(ctx, team.Id, r.u.RemoteID, "")
		return resp, err
	})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return m.DeleteAt == 0, nil
}

// inChannel reports whether the user is a member of ch.
func (r *reader) inChannel(ctx context.Context, ch *model.Channel) (bool, error) {
	err := r.c.call(ctx, fmt.Sprintf("read membership of %s in channel %q", r.u.UserName, ch.Name), func(ctx context.Context) (resp *model.Response, err error) {
		_, resp, err = r.c.api.GetChannelMember(ctx, ch.Id, r.u.RemoteID, "")
		return resp, err
	})
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// join reads what giving the user the wanted channel w takes. A team that
// does not exist, an archived channel and a group's channel are terminal
// errors that name the channel and its formula.
func (r *reader) join(ctx context.Context, w formulas.Channel) (join, error) {
	j := join{res: w}
	src := w.Source.String()
	team, err := r.team(ctx, w.Team)
	if err != nil {
		return j, err
	}
	if team == nil {
		return j, fanout.Terminal(fmt.Errorf("mattermost: formula %s: channel %s: team %q does not exist (a formula's channels are made in existing teams)", src, w.Key(), w.Team))
	}
	j.team = team
	ch, err := r.c.channelByName(ctx, team, w.Name)
	if err != nil {
		return j, err
	}
	if ch != nil {
		if err := r.c.usable(ch, team, w); err != nil {
			return j, err
		}
	}
	j.ch = ch
	if r.u.RemoteID == "" {
		// No account yet (a plan before the first pass): it joins both.
		j.joinTeam, j.joinChannel = true, true
		return j, nil
	}
	if ch != nil {
		member, err := r.inChannel(ctx, ch)
		if err != nil || member {
			return j, err
		}
	}
	j.joinChannel = true
	member, err := r.inTeam(ctx, team)
	j.joinTeam = !member
	return j, err
}

// usable refuses a channel a formula may not put anyone in: an archived
// one, and, with groupChannels, one whose members follow a SCIM group (the
// group's passes would take the formula's members out again).
func (c *Connector) usable(ch *model.Channel, team *model.Team, w formulas.Channel) error {
	src := w.Source.String()
	if ch.DeleteAt != 0 {
		return fanout.Terminal(fmt.Errorf("mattermost: formula %s: channel %s (%s) is archived; unarchive it, or change the formula", src, w.Key(), ch.Id))
	}
	if owner := markedGroup(ch.Purpose); owner != "" && c.cfg.GroupChannels && team.Name == c.cfg.Team {
		return fanout.Terminal(fmt.Errorf("mattermost: formula %s: channel %s belongs to scim group %s, whose members it follows; give the formula another channel", src, w.Key(), owner))
	}
	return nil
}

// leave reads what taking the user out of h, which no formula asks for
// any more, takes under h's policy.
func (r *reader) leave(ctx context.Context, h formulas.Channel) (leave, error) {
	l := leave{res: h}
	if policy(h.OnRemove) == formulas.OnRemoveKeep {
		l.keep = "membership stays (onRemove: keep)"
		return l, nil
	}
	if r.u.RemoteID == "" {
		return l, nil // no account, no membership
	}
	team, err := r.team(ctx, h.Team)
	if err != nil || team == nil {
		return l, err // a team that is gone took its memberships along
	}
	ch, err := r.c.channelByName(ctx, team, h.Name)
	if err != nil || ch == nil {
		return l, err
	}
	member, err := r.inChannel(ctx, ch)
	if err != nil || !member {
		return l, err
	}
	if ch.Name == model.DefaultChannelName {
		l.keep = "membership stays: nobody may leave " + model.DefaultChannelName + " but by leaving the team"
		return l, nil
	}
	l.ch = ch
	return l, nil
}

// pass is the work of one EnsureResources or PlanResources call: the
// channels to join and to leave, in the order given.
type pass struct {
	joins  []formulas.Channel
	leaves []formulas.Channel
	// idle are wanted channels left as they are: those of a deactivated
	// user, whom Mattermost does not let join a channel.
	idle []formulas.Channel
}

// sortOut splits want and had into what a pass does. A deleted user is
// given nothing; a deactivated one is given nothing new, but keeps what
// they have until they are active again.
func sortOut(u fanout.User, want, had formulas.Resources) pass {
	var p pass
	wanted := map[string]bool{}
	if !u.Deleted {
		for _, w := range want.Mattermost.Channels {
			if wanted[w.Key()] {
				continue
			}
			wanted[w.Key()] = true
			if u.Active {
				p.joins = append(p.joins, w)
			} else {
				p.idle = append(p.idle, w)
			}
		}
	}
	seen := map[string]bool{}
	for _, h := range had.Mattermost.Channels {
		if wanted[h.Key()] || seen[h.Key()] {
			continue
		}
		seen[h.Key()] = true
		p.leaves = append(p.leaves, h)
	}
	return p
}

// EnsureResources gives u the channel memberships of want.Mattermost, and
// takes u out of the channels of had that want no longer has, by their
// onRemove policy (see the package documentation, "Formula resources").
// It reads before it writes: a user whose channels are right costs reads
// only. It returns the channels applied now: want's, and those of had
// whose removal has not happened yet. A resource Mattermost refuses for
// good (a missing team, an archived channel) does not hold back the
// others; the error, terminal, names each. Any other error stops the pass.
func (c *Connector) EnsureResources(ctx context.Context, u fanout.User, want, had formulas.Resources) (formulas.Resources, error) {
	p := sortOut(u, want, had)
	if u.RemoteID == "" && len(p.joins) > 0 {
		// EnsureUser runs first and links an account; without one there
		// is nobody to give a channel to yet.
		return channels(had.Mattermost.Channels), fmt.Errorf("mattermost: user %q has no account yet; the next pass gives them their channels", u.UserName)
	}
	hadKeys := map[string]bool{}
	for _, h := range had.Mattermost.Channels {
		hadKeys[h.Key()] = true
	}
	var applied []formulas.Channel
	applied = append(applied, p.idle...)
	var terminal []error
	r := c.reader(u)
	for i, w := range p.joins {
		wrote, err := c.join(ctx, r, w)
		switch {
		case err == nil:
			applied = append(applied, w)
			continue
		case wrote || hadKeys[w.Key()]:
			// It may be there, in part: remember it, so that its removal
			// is never forgotten.
			applied = append(applied, w)
		}
		if fanout.IsTerminal(err) {
			terminal = append(terminal, err)
			continue
		}
		for _, rest := range p.joins[i+1:] {
			if hadKeys[rest.Key()] {
				applied = append(applied, rest)
			}
		}
		return channels(append(applied, p.leaves...)), failure(terminal, err)
	}
	for i, h := range p.leaves {
		err := c.leave(ctx, r, h)
		if err == nil {
			continue
		}
		applied = append(applied, h)
		if fanout.IsTerminal(err) {
			terminal = append(terminal, err)
			continue
		}
		return channels(append(applied, p.leaves[i+1:]...)), failure(terminal, err)
	}
	return channels(applied), failure(terminal, nil)
}

// channels wraps the applied channels as Resources.
func channels(list []formulas.Channel) formulas.Resources {
	return formulas.Resources{Mattermost: formulas.MattermostResources{Channels: list}}
}

// join gives u the wanted channel w; wrote says whether it wrote anything.
func (c *Connector) join(ctx context.Context, r *reader, w formulas.Channel) (wrote bool, err error) {
	j, err := r.join(ctx, w)
	if err != nil || !j.needed() {
		return false, err
	}
	src := w.Source.String()
	if j.ch == nil {
		ch, created, err := c.createFormulaChannel(ctx, j.team, w)
		if err != nil {
			return created, err
		}
		j.ch, wrote = ch, created
		if created {
			c.log.InfoContext(ctx, "created formula channel", "channel", w.Key(), "channel_id", ch.Id, "formula", src)
		}
	}
	if j.joinTeam {
		err := c.call(ctx, fmt.Sprintf("formula %s: add %s to team %q", src, who(r), j.team.Name), func(ctx context.Context) (resp *model.Response, err error) {
			_, resp, err = c.api.AddTeamMember(ctx, j.team.Id, r.u.RemoteID)
			return resp, err
		})
		if err != nil {
			return wrote, err
		}
		wrote = true
		c.log.InfoContext(ctx, "added user to team for a formula channel", "user", r.u.UserName, "team", j.team.Name, "formula", src)
	}
	if !j.joinChannel {
		return wrote, nil
	}
	err = c.call(ctx, fmt.Sprintf("formula %s: add %s to channel %s", src, who(r), w.Key()), func(ctx context.Context) (resp *model.Response, err error) {
		_, resp, err = c.api.AddChannelMember(ctx, j.ch.Id, r.u.RemoteID)
		return resp, err
	})
	switch {
	case isAppError(err, idDeactivated), isAppError(err, idMissingAccount),
		isAppError(err, idTeamMemberMissing), isAppError(err, idLeftTeam):
		// The account was deactivated, deleted or taken out of the team
		// since this pass read it: the next pass sees it as it is now.
		return true, retried(err)
	case err != nil:
		return true, err
	}
	c.log.InfoContext(ctx, "added user to formula channel", "user", r.u.UserName, "channel", w.Key(), "formula", src)
	return true, nil
}

// who names the pass's user in errors.
func who(r *reader) string { return fmt.Sprintf("%s (%s)", r.u.UserName, r.u.RemoteID) }

// createFormulaChannel creates w's channel in team. When Mattermost
// answers that the team has a channel of that name (made since the pass
// looked), that channel is used, created false, if a formula may use it.
func (c *Connector) createFormulaChannel(ctx context.Context, team *model.Team, w formulas.Channel) (ch *model.Channel, created bool, err error) {
	typ := model.ChannelTypeOpen
	if w.Private {
		typ = model.ChannelTypePrivate
	}
	display := w.DisplayName
	if display == "" {
		display = w.Name
	}
	src := w.Source.String()
	want := &model.Channel{TeamId: team.Id, Name: w.Name, DisplayName: display, Type: typ, Purpose: formulaPurpose(src)}
	err = c.call(ctx, fmt.Sprintf("formula %s: create channel %s", src, w.Key()), func(ctx context.Context) (resp *model.Response, err error) {
		ch, resp, err = c.api.CreateChannel(ctx, want)
		return resp, err
	})
	if isAppError(err, idChannelExists) {
		again, ferr := c.channelByName(ctx, team, w.Name)
		if ferr != nil {
			return nil, false, ferr
		}
		if again == nil {
			return nil, false, retried(err) // gone again
		}
		if uerr := c.usable(again, team, w); uerr != nil {
			return nil, false, uerr
		}
		return again, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return ch, true, nil
}

// leave takes u out of h's channel under h's policy.
func (c *Connector) leave(ctx context.Context, r *reader, h formulas.Channel) error {
	l, err := r.leave(ctx, h)
	if err != nil || l.ch == nil {
		return err
	}
	src := h.Source.String()
	err = c.call(ctx, fmt.Sprintf("formula %s: remove %s from channel %s", src, who(r), h.Key()), func(ctx context.Context) (*model.Response, error) {
		return c.api.RemoveUserFromChannel(ctx, l.ch.Id, r.u.RemoteID)
	})
	if err != nil && !isAppError(err, idNotChannelMember) && !isAppError(err, idMissingAccount) {
		return err
	}
	c.log.InfoContext(ctx, "removed user from formula channel", "user", r.u.UserName, "channel", h.Key(), "formula", src, "on_remove", string(policy(h.OnRemove)))
	return nil
}

// failure is the error of a pass: nil, the one that stopped it (last),
// or the terminal errors of the resources Mattermost refused, terminal
// only when nothing else went wrong.
func failure(terminal []error, last error) error {
	if len(terminal) == 0 {
		return last
	}
	var list errorList
	for _, err := range terminal {
		var te *fanout.TerminalError
		if errors.As(err, &te) {
			err = te.Err
		}
		list = append(list, err)
	}
	if last != nil {
		return append(list, last)
	}
	if len(list) == 1 {
		return fanout.Terminal(list[0])
	}
	return fanout.Terminal(list)
}

// retried strips the terminal mark from err: an answer that the next
// pass, reading Mattermost again, resolves.
func retried(err error) error {
	var te *fanout.TerminalError
	if errors.As(err, &te) {
		return te.Err
	}
	return err
}

// errorList is several errors of one pass, on one line.
type errorList []error

func (l errorList) Error() string {
	msgs := make([]string, len(l))
	for i, err := range l {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (l errorList) Unwrap() []error { return l }

// PlanResources says what EnsureResources would do, reading Mattermost
// and writing nothing. Each channel to join is a "create" change (the
// membership is made) whose detail says whether the channel is created
// and the team joined first; each channel to leave is a "remove" change,
// and one whose policy keeps it a "keep" change. A channel already right
// gives no change. A resource EnsureResources would fail on gives the
// same error, with the changes of the others.
func (c *Connector) PlanResources(ctx context.Context, u fanout.User, want, had formulas.Resources) ([]fanout.Change, error) {
	p := sortOut(u, want, had)
	r := c.reader(u)
	var out []fanout.Change
	var terminal []error
	for _, w := range p.joins {
		j, err := r.join(ctx, w)
		if fanout.IsTerminal(err) {
			terminal = append(terminal, err)
			continue
		}
		if err != nil {
			return out, failure(terminal, err)
		}
		if !j.needed() {
			continue
		}
		out = append(out, fanout.Change{Connector: name, Action: fanout.ActionCreate, Kind: channelKind,
			Name: w.Key(), Detail: joinDetail(j), Source: w.Source.String()})
	}
	for _, h := range p.leaves {
		l, err := r.leave(ctx, h)
		if err != nil {
			return out, failure(terminal, err)
		}
		ch := fanout.Change{Connector: name, Kind: channelKind, Name: h.Key(), Source: h.Source.String()}
		switch {
		case l.keep != "":
			ch.Action, ch.Detail = fanout.ActionKeep, l.keep
		case l.ch != nil:
			ch.Action, ch.Detail = fanout.ActionRemove, "remove membership"
			if policy(h.OnRemove) == formulas.OnRemoveDelete {
				ch.Detail += " (the channel itself stays)"
			}
		default:
			continue
		}
		out = append(out, ch)
	}
	return out, failure(terminal, nil)
}

// joinDetail says what joining j's channel takes.
func joinDetail(j join) string {
	var steps []string
	if j.joinTeam {
		steps = append(steps, "join team "+j.team.Name)
	}
	if j.ch == nil {
		kind := "public"
		if j.res.Private {
			kind = "private"
		}
		display := j.res.DisplayName
		if display == "" {
			display = j.res.Name
		}
		steps = append(steps, fmt.Sprintf("create %s channel %q", kind, display))
		steps = append(steps, "join it")
	} else {
		steps = append(steps, "join existing channel")
	}
	return strings.Join(steps, ", ")
}
