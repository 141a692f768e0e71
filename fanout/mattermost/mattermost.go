// Package mattermost provisions users and groups into Mattermost, so that
// a person's first sign-in through Mattermost's single sign-on (OpenID
// Connect, GitLab, Google or Office 365) lands in an account prepared for
// them beforehand, already a member of their groups' channels.
//
// # Accounts
//
// Mattermost recognises a returning single sign-on user by two columns of
// the user: auth_service (the provider: "openid", "gitlab", ...) and
// auth_data, which must equal the provider's user id exactly: the "sub"
// claim for openid, the numeric user id for gitlab, the object id for
// office365. An email alone does not link. EnsureUser creates the account
// through POST /api/v4/users with AuthService and auth_data taken from
// AuthDataAttribute, and no password; Mattermost then never accepts a
// password for it.
//
// Mattermost's API never shows auth_data, not even to a system
// administrator, so the connector cannot tell a stale link from a good
// one. It therefore sets the link (PUT /users/{id}/auth, which is
// idempotent) on every pass over an existing account: a converged user
// costs one read and that one write.
//
// An account is found, in this order:
//
//  1. by the id returned last time (fanout.User.RemoteID), if the account
//     is still bound to AuthService;
//  2. by email (Mattermost compares emails without case, and finds
//     deactivated accounts too). An account bound to AuthService is linked
//     as it is; a password account is adopted, and from then on signs in
//     through the provider only (setting the link clears its password).
//     An account bound to another sign-in method (LDAP, SAML, another
//     provider), a bot, and a system administrator who signs in with a
//     password are never taken over: EnsureUser returns a terminal error
//     that names the account;
//  3. otherwise it is created. When the username is taken by another
//     account (another email), EnsureUser returns a terminal error that
//     names it: accounts are never adopted by username, since two people
//     may map to one username, and never shared.
//
// A new account gets the derived username (below), the email (verified:
// the identity provider vouches for it), the given and family names, and
// no welcome email. The connector then keeps the link, the email and the
// active state; it never renames an account, and it never changes the
// names of an account that signs in through OAuth: Mattermost refuses that
// through the API (409) and takes them from the provider at every sign-in.
//
// An inactive user (active: false) is deactivated (PUT /users/{id}/active);
// Mattermost then ends their sessions and refuses their sign-in until the
// user is active again, which reactivates the account. A deleted user is
// deactivated and removed from Team, which in Mattermost also removes them
// from every channel of the team; the account and its messages stay. A
// deleted user who has no account bound to AuthService is left alone.
//
// # Usernames
//
// A new account's username is derived from the SCIM userName, under the
// rules Mattermost's server and web app share (3 to 22 characters, lowercase
// letters, digits, '.', '-' and '_', starting with a letter):
//
//   - an email address keeps its part before the '@';
//   - letters are lowercased and lose their accents ("José" gives "jose");
//     æ, ø, ß, ł, œ, đ and þ are spelled out in ASCII;
//   - apostrophes are dropped ("O'Brien" gives "obrien");
//   - every other character outside a-z, 0-9, '.', '-' and '_' becomes '-';
//   - a run of '.', '-' and '_' keeps its first character, and the name
//     neither starts nor ends with one;
//   - a name that starts with a digit gets a leading "u";
//   - the name is cut to 22 characters.
//
// A name shorter than 3 characters, or one Mattermost reserves for mentions
// (all, channel, here, matterbot, system, valet), is not used: the email's
// part before the '@' is tried the same way, then "user-" followed by 8 hex
// digits of the SHA-256 of the auth data.
//
// # Groups
//
// Every group's members are made members of Team (the team must exist).
// Team membership is only ever added, by a group or by a formula's channel
// (see Formula resources), and never taken away by them: the connector
// cannot tell whether someone is in the team through another group, an
// invitation or their own joining, so leaving a group never removes anyone
// from the team.
// Deleting the user in SCIM does (see Accounts).
//
// With groupChannels: true, each SCIM group is also a channel of Team, of
// ChannelType, whose members are made exactly the group's members that
// have an account (a RemoteID); members not yet provisioned are skipped
// until their own pass. The token's own user, who becomes a member of each
// channel it creates, is removed from it unless in the group. The group's
// RemoteID is the channel's id; without groupChannels it is Team's id.
//
// The channel's name (its URL) is the group's displayName under
// Mattermost's channel name rules (lowercase letters, digits, '-' and '_',
// starting with a letter or digit, at most 64 characters): accents are
// removed as for usernames, every run of other characters becomes one '-',
// and leading and trailing '-' and '_' are dropped ("Platform Team" gives
// "platform-team"). An empty result becomes "group-" plus 8 hex digits of
// the displayName's SHA-256, and a longer one is cut and given such a
// suffix. Its display name is the displayName, cut to 64 characters. A
// group whose name maps to town-square, the team's default channel that
// nobody may leave, gives a terminal error.
//
// The channel is found by the id returned last time, so a renamed group
// renames the channel's display name (never its URL), else by name, and is
// created otherwise. A channel the connector creates or adopts carries
// "[scim group <id>]" at the end of its purpose, and a channel that carries
// another group's mark is never adopted (a terminal error), so that two
// groups whose names map to one channel ("Dev Ops" and "dev-ops") never
// share it. An adopted channel keeps its type and display name; its members
// are made the group's, so people not in the group leave it. An archived
// channel is never written to: EnsureGroup returns a terminal error until
// it is unarchived or the group renamed. A deleted group's channel is
// emptied and kept, with its messages. A deactivated member is not added
// to a group's channel, since Mattermost refuses to add a deactivated
// account to a channel; the group's first pass after the user is active
// again adds them.
//
// # Formula resources
//
// The connector is a fanout.ResourceConnector. A formula's
// mattermost.channels make the user a member of channel name in team
// team:
//
//   - the team must exist: a missing team is a terminal error that names
//     the channel and the formula. Teams are never created;
//   - a channel that does not exist is created, with the formula's
//     displayName, public or private as the formula says, and a purpose
//     that names the formula. The token's user, whom Mattermost makes
//     the creator and a member of every channel it creates, stays in it.
//     A channel that exists is used as it is: it is shared, so its display
//     name and type are not the formula's business and are never changed;
//   - the user joins the team first when they are not in it, as Mattermost
//     lets only a team's members into its channels (AddUserToChannel in
//     server/channels/app/channel.go), then the channel;
//   - an archived channel is a terminal error until it is unarchived or
//     the formula changed, as for group channels; so is, with
//     groupChannels, a channel of Team whose members follow a SCIM group,
//     since the group's passes would take the formula's members out again.
//
// Everything is read before anything is written: a user whose memberships
// are right costs reads only (a team, a channel and a membership per
// channel). A user deactivated in SCIM (active: false) is given no new
// channel, since Mattermost refuses to add a deactivated account to one;
// they get them when they are active again. A user deleted in SCIM is
// given nothing, and loses the channels of their formulas by the policies
// below (those of Team went with the team already, see Accounts). A
// channel Mattermost refuses for good does not hold back the user's other
// channels.
//
// When no formula asks for a channel any more (the user left the bound
// group, or the binding went), its onRemove policy applies:
//
//   - keep: the user stays in the channel.
//   - suspend (the default) and delete: the user leaves the channel. The
//     team membership stays (see Groups), and the channel itself, found or
//     created, is never archived or deleted: it is shared, and its
//     messages are everyone's. Nobody may leave town-square but by
//     leaving the team, so that membership stays.
//
// A removal that fails is tried again at the next pass. PlanResources
// reads the same and writes nothing: a "create" change for each channel
// to join (its detail says whether the channel is created and the team
// joined first), a "remove" change for each to leave, and a "keep" change
// for each that stays by its policy.
//
// # Errors
//
// Mattermost's errors carry an id (app.user.save.username_exists.app_error,
// ...), which the connector's errors show. 429 and 503 answers ask for a
// retry after Retry-After (30s without one); other 5xx answers, 408 and
// network errors are retried; 401 (a bad or revoked token) and any other
// 4xx (a token without rights, a validation error Mattermost will repeat)
// are terminal (fanout.Terminal).
//
// # Configuration
//
// Under connectors.mattermost in the service's configuration file:
//
//	connectors:
//	  mattermost:
//	    url: https://chat.example.com/
//	    team: platform               # every group's members join this team
//	    authService: openid          # or gitlab, google, office365
//	    authDataAttribute: externalId
//	    groupChannels: true          # each group is also a channel
//	    channelType: private         # or public
//	    timeout: 15s
//	    tokenFile: /run/secrets/mattermost-token  # or SCIMBRIDGE_MATTERMOST_TOKEN
//
// The token is a personal access token of a system administrator, or the
// access token of a bot account with the system_admin role.
package mattermost

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/scimbridge/scimbridge/fanout"
)

// TokenEnv is the environment variable LoadToken reads Mattermost's
// access token from.
const TokenEnv = "SCIMBRIDGE_MATTERMOST_TOKEN"

// DefaultTimeout bounds each request to Mattermost when Config.Timeout is
// zero.
const DefaultTimeout = 15 * time.Second

// name is the connector's name in configuration, status and metrics.
const name = "mattermost"

// Values of Config.ChannelType.
const (
	// ChannelPrivate makes group channels private: only members see them.
	ChannelPrivate = "private"
	// ChannelPublic makes group channels public: anyone in the team may
	// find and read them (and join them; the next pass of the group then
	// removes whoever is not in it).
	ChannelPublic = "public"
)

// authServices are the values Config.AuthService accepts: Mattermost's
// OAuth providers, whose accounts may be created with their link through
// the API.
var authServices = []string{model.ServiceOpenid, model.ServiceGitlab, model.ServiceGoogle, model.ServiceOffice365}

// Config configures the Mattermost connector. It is read from the YAML
// section connectors.mattermost of the service's configuration file.
type Config struct {
	// URL is Mattermost's site URL, for example "https://chat.example.com/"
	// (a sub-path is kept; the API is under URL/api/v4). Required.
	URL string `yaml:"url"`

	// Team is the name of the Mattermost team (the name in its URL, not
	// its display name) that every group's members join, and in which
	// group channels are made. It must exist. Required.
	Team string `yaml:"team"`

	// AuthService is the single sign-on service accounts are bound to, the
	// one people sign in through: "openid" (default), "gitlab", "google" or
	// "office365".
	AuthService string `yaml:"authService"`

	// AuthDataAttribute names the SCIM attribute whose value becomes the
	// account's auth_data: what AuthService's provider identifies the
	// person by. Default "externalId", which carries the OIDC subject
	// ("sub"). For gitlab it must hold GitLab's numeric user id, for
	// example "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
	// or a dotted path such as "gitlab.id"; a value that is not a number is
	// refused. Also accepted: "userName" and "id". Names match
	// case-insensitively; filters ("emails[...]") are not supported.
	AuthDataAttribute string `yaml:"authDataAttribute"`

	// GroupChannels, when true, makes each SCIM group a channel of Team
	// whose members are the group's. When false (default), groups only
	// bring their members into Team.
	GroupChannels bool `yaml:"groupChannels"`

	// ChannelType is the type of the channels the connector creates for
	// groups: "private" (default) or "public". Channels that already
	// exist keep theirs.
	ChannelType string `yaml:"channelType"`

	// Timeout bounds each request to Mattermost. Default 15s.
	Timeout time.Duration `yaml:"timeout"`

	// TokenFile is a file holding the access token, as an alternative to
	// the SCIMBRIDGE_MATTERMOST_TOKEN environment variable (set one of the
	// two). Surrounding white space is ignored. The token is a personal
	// access token of a system administrator or a bot's token with the
	// system_admin role.
	TokenFile string `yaml:"tokenFile"`

	// Transport, when set, carries every request to Mattermost (a proxy,
	// an instrumented transport); nil means http.DefaultTransport. It
	// cannot be set from YAML.
	Transport http.RoundTripper `yaml:"-"`
}

// Connector provisions into one Mattermost server. It is safe for
// concurrent use; its methods may be called for different keys at the
// same time.
type Connector struct {
	cfg Config
	api *model.Client4
	log *slog.Logger
	// authPath is the parsed AuthDataAttribute; nil means externalId,
	// which the reconciler already puts in fanout.User.Subject.
	authPath []string
}

var _ fanout.Connector = (*Connector)(nil)

// Open checks cfg and returns a Connector that calls Mattermost with
// token. It makes no request: Check does. logger may be nil. The token is
// never logged.
func Open(cfg Config, token string, logger *slog.Logger) (*Connector, error) {
	base, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	cfg.Team = strings.TrimSpace(cfg.Team)
	if !model.IsValidTeamName(cfg.Team) {
		return nil, fmt.Errorf("mattermost: team must be the name of a team as in its URL (lowercase letters, digits and '-'), not %q", cfg.Team)
	}
	switch cfg.AuthService = strings.TrimSpace(cfg.AuthService); {
	case cfg.AuthService == "":
		cfg.AuthService = model.ServiceOpenid
	case !contains(authServices, cfg.AuthService):
		return nil, fmt.Errorf("mattermost: authService must be one of %s, not %q", strings.Join(authServices, ", "), cfg.AuthService)
	}
	path, err := parseAttributePath(cfg.AuthDataAttribute)
	if err != nil {
		return nil, fmt.Errorf("mattermost: authDataAttribute: %w", err)
	}
	switch cfg.ChannelType {
	case "":
		cfg.ChannelType = ChannelPrivate
	case ChannelPrivate, ChannelPublic:
	default:
		return nil, fmt.Errorf("mattermost: channelType must be %q or %q, not %q", ChannelPrivate, ChannelPublic, cfg.ChannelType)
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("mattermost: timeout must not be negative, not %v", cfg.Timeout)
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("mattermost: no access token (set %s or tokenFile)", TokenEnv)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	api := model.NewAPIv4Client(base)
	api.HTTPClient = &http.Client{Transport: cfg.Transport}
	api.HTTPHeader["User-Agent"] = "scimbridge"
	api.SetToken(token)
	return &Connector{cfg: cfg, api: api, log: logger.With("connector", name), authPath: path}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func parseBaseURL(raw string) (string, error) {
	u, err := fanout.ParseServiceURL(name, raw)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// LoadToken returns the access token: the content of cfg.TokenFile when it
// is set, else the environment variable TokenEnv read through getenv
// (os.Getenv when nil). Setting both is an error, so that it is never
// unclear which token is used; so is setting neither.
func LoadToken(cfg Config, getenv func(string) string) (string, error) {
	return fanout.LoadToken(name, TokenEnv, cfg.TokenFile, getenv)
}

// Name returns "mattermost".
func (c *Connector) Name() string { return name }

// Check verifies, before the first reconcile, that Mattermost answers,
// that the token is valid and belongs to a system administrator (or a bot
// with that role), and that Team exists. Errors are terminal when retrying
// cannot help.
func (c *Connector) Check(ctx context.Context) error {
	var me *model.User
	err := c.call(ctx, "check token", func(ctx context.Context) (resp *model.Response, err error) {
		me, resp, err = c.api.GetMe(ctx, "")
		return resp, err
	})
	if err != nil {
		return err
	}
	if !me.IsSystemAdmin() {
		return fanout.Terminal(fmt.Errorf("mattermost: the token's user %q is not a system administrator", me.Username))
	}
	_, err = c.team(ctx)
	return err
}

// call runs one request under its own deadline and classifies its error.
func (c *Connector) call(ctx context.Context, op string, fn func(ctx context.Context) (*model.Response, error)) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := fn(ctx)
	if err != nil {
		return classify(op, resp, err)
	}
	return nil
}

// team reads Team; a missing team is a terminal error.
func (c *Connector) team(ctx context.Context) (*model.Team, error) {
	var team *model.Team
	err := c.call(ctx, fmt.Sprintf("get team %q", c.cfg.Team), func(ctx context.Context) (resp *model.Response, err error) {
		team, resp, err = c.api.GetTeamByName(ctx, c.cfg.Team, "")
		return resp, err
	})
	if isNotFound(err) {
		return nil, fanout.Terminal(fmt.Errorf("mattermost: team %q does not exist (the team setting names it as in its URL)", c.cfg.Team))
	}
	return team, err
}
