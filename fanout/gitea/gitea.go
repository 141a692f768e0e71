// Package gitea provisions users and groups into Gitea, so that a person's
// first sign-in through Gitea's OAuth2 (OpenID Connect) authentication
// source lands in an account prepared for them beforehand.
//
// # Accounts
//
// Gitea recognises a returning OAuth2 user by three columns of the user:
// the login type (OAuth2), the login source (the authentication source's
// id) and the login name, which must equal the provider's "sub" claim
// exactly, case included. EnsureUser sets exactly those: it creates the
// account with source_id = AuthSourceID and login_name = the subject
// through the admin API, with must_change_password false (Gitea defaults
// it to true, and then every page demands a password change). No password
// is sent: Gitea v1.26 asks for one only for local accounts.
//
// An account is found, in this order:
//
//  1. by its link: the account whose source_id is AuthSourceID and whose
//     login_name equals the subject exactly. That is the account the OIDC
//     login lands in, including one Gitea registered itself at a first
//     login that came before the bridge. It is looked up in an index
//     rather than by a search per user (see "Finding accounts by
//     subject" below).
//  2. by the id returned last time (fanout.User.RemoteID, Gitea's numeric
//     user id in decimal), if that account is still bound to AuthSourceID:
//     the subject changed, and the account is relinked to the new one.
//  3. by username (see below), then by email (primary or secondary). Such
//     an account is adopted, that is linked to the subject, only if it is
//     a local account or is bound to AuthSourceID with an empty login name.
//     An account linked to another authentication source or to another
//     login name is never taken over: EnsureUser returns a terminal error
//     that names it, as it does for a site administrator's account and
//     when the username and the email point at two different accounts.
//     An adopted local account signs in through the provider from then on:
//     Gitea no longer accepts its password on the sign-in form.
//  4. otherwise it is created.
//
// Every edit resends source_id and login_name: Gitea v1.26 answers 422 to
// an edit without login_name, and older versions blanked it. Gitea is written to only when what it has
// differs from the desired state, so a converged user costs one GET.
// EnsureUser manages the link, the email, the full name and
// prohibit_login; it never renames an account (usernames are part of
// repository URLs), never touches its admin flag, and leaves a missing
// email or name as Gitea has it.
//
// An inactive user (active: false) gets prohibit_login; Gitea then still
// completes the OAuth2 callback but shows every signed-in page as "sign-in
// prohibited", and rejects the user's tokens. A deleted user is suspended
// the same way and removed from every team of Organization except its
// Owners team; with onDelete: delete the account is then deleted, which
// Gitea refuses (a terminal error) while the user owns repositories,
// packages or organizations. A deleted user who has no account is left
// alone.
//
// # Finding accounts by subject
//
// Gitea can search its users by login name, but each search is a request
// of its own, and every request with an access token costs Gitea a write
// (it records the token's last use, services/auth/oauth2.go) besides a
// scan of its user table (login_name has no index in
// models/user/user.go): measured on Gitea v1.26, a search costs it about
// half the CPU time of a creation. Provisioning many users at once would
// spend half as much again finding accounts as creating them. So, during
// a burst, the connector keeps an index of the login names of the
// accounts bound to AuthSourceID:
//
//   - it starts by searching for each user it does not know. Once a
//     burst (users that come less than a minute apart) has searched for
//     as many users as a full listing of the source's accounts takes
//     pages (GET /api/v1/admin/users with source_id, 50 a page, newest
//     first; the first page tells the count), it makes that listing in
//     the background, and uses the index when it is complete. So the
//     listing never costs more requests than the searches it replaces,
//     and a Gitea with 100,000 accounts in the source is listed only for
//     a burst of 2,000 new users or more;
//   - it lists them all again after a minute (on a Gitea whose full
//     listing takes more than two seconds, after thirty times as long as
//     it took), if since the last listing the index answered for at
//     least as many users as that listing took pages; otherwise it drops
//     the index, and searches for each user again;
//   - rounds keep it current: each is one short listing, newest id first,
//     of the accounts created since the newest the index knows. Rounds
//     begin at least 150ms apart and serve every user provisioned
//     meanwhile, so a burst of new users costs one creation each and a
//     few listings a second, not a search each;
//   - each round compares Gitea's count of the source's accounts with the
//     index; when Gitea counts more, the round lists them all before
//     answering. That catches an older account linked to the source by
//     hand, a row a listing skipped because an account was deleted
//     meanwhile, and, on MySQL and PostgreSQL, an account whose insert
//     became visible after that of an account with a higher id, once a
//     round had passed it (SQLite commits in id order);
//   - an account the index names is read again by id and checked (source
//     and login name) before it is used. A wrong entry (the account was
//     deleted or relinked) is dropped and Gitea searched directly, as it
//     is when the index names two accounts (a terminal error then names
//     both) and when a creation collided (422).
//
// A user the index does not know is created only when a listing that
// began at most 500ms earlier did not show an account with that login
// name; otherwise EnsureUser first waits for a round that begins after
// it was called. While several users are being provisioned, a round is
// asked for before the last one is too old, so none of them waits; a
// lone EnsureUser asks for no round it does not wait for. A search per
// user leaves a window of the same kind, the time between the search
// and the creation, only shorter. What the window lets through: the
// person's first OIDC login registering an account (Gitea's
// auto-registration) less than about half a second before the bridge
// creates theirs, with a username and an email both different from the
// bridge's; when either is the same, Gitea refuses the creation (422)
// and the account is found by an exact search and adopted. The next
// listing that shows two accounts with one login name logs an error,
// and the user's next EnsureUser fails with a terminal error naming both
// accounts. Two more cases wait for the next full listing (a minute on
// most sites): an account of the source whose login name an
// administrator changed by hand, and one of the cases the count catches
// when, since the last full listing, an account the index holds was
// deleted or unlinked by hand, which leaves the counts equal.
//
// Gitea lists accounts by id from v1.26 on. Against an older Gitea, or
// when a listing comes back in another order, the connector searches for
// each user instead.
//
// # Usernames
//
// A new account's username is derived from the SCIM userName:
//
//   - an email address keeps its part before the '@' ("alice@example.com"
//     gives "alice");
//   - letters lose their accents ("José" gives "Jose"), and æ, ø, ß, ł, œ,
//     đ and þ are spelled out in ASCII;
//   - apostrophes are dropped ("O'Brien" gives "OBrien");
//   - every other character outside A-Z, a-z, 0-9, '-', '_' and '.'
//     becomes '-';
//   - a run of '-', '_' and '.' keeps its first character, and the name
//     may neither start nor end with one;
//   - the name is cut to 40 characters, and a final ".keys", ".gpg",
//     ".rss", ".atom" or ".png" gets a '-' instead of its dot;
//   - case is kept (Gitea compares usernames case-insensitively).
//
// When nothing is left, the email's local part is tried the same way, and
// then "user-" followed by 8 hex digits of the subject's SHA-256. A name
// Gitea reserves, such as "api" or "user", is refused by Gitea with a
// terminal error. Two SCIM users whose names map to the same
// username (alice@a.example and alice@b.example) give a terminal conflict
// error for the second one, never a shared account.
//
// # Groups
//
// Each SCIM group is one team of Organization. Its name is the group's
// displayName under Gitea's team-name rules (A-Z, a-z, 0-9, '-', '_' and
// '.', at most 255 characters): accents are removed as for usernames,
// every run of other characters becomes one '-', and leading and trailing
// '-' and '.' are dropped ("Platform Team" gives "Platform-Team"). An
// empty result becomes "group-" plus 8 hex digits of the displayName's
// SHA-256, and a longer one is cut and given such a suffix, so that two
// long names do not meet. "Owners" and "new" (in any case) are refused
// with a terminal error: the first is the organization's owners team,
// the second a reserved name.
//
// The team is found by the id returned last time (fanout.Group.RemoteID),
// so a renamed group renames its team, else by name (case-insensitively),
// and is created otherwise, with TeamPermission on every repository unit,
// without access to all repositories and without the right to create
// repositories. An adopted team keeps its permissions: EnsureGroup manages
// a team's name and members only. A team the connector creates or adopts
// gets "[scim group <id>]" at the end of its description, and a team that
// carries another group's mark is never adopted (a terminal error), so two
// groups whose names map to one team ("Dev Ops" and "Dev-Ops") never
// share it. Membership is made exactly equal to the
// group's members that have a Gitea account (a RemoteID); members not yet
// provisioned are skipped until their own pass. A deleted group's team is
// emptied and kept, with its repositories.
//
// # Formula resources
//
// EnsureResources gives a user the Gitea part of the formulas bound to
// their groups. A repository belongs to the user's own account when the
// formula names no owner, else to an organization, which must exist. An
// existing repository of that owner and name is adopted, never
// recreated. Otherwise it is created: from the formula's template
// repository (which must exist and be marked as a template; its default
// branch's content, topics and labels are copied, not its git hooks or
// webhooks), or empty. After a generation the connector lists the new
// repository's branches once, since Gitea v1.26 records them only then
// and until it does its contents API answers 404. Description and
// visibility are set at creation and changed later only when the formula
// changes them, so an adopted repository keeps its own and edits made in
// Gitea stay. On an organization's repository the user is a collaborator
// with the formula's permission, kept equal to it, unless a team already
// gives more. Team memberships add the user to an existing team; a
// missing team, the Owners team and a team that follows a SCIM group are
// terminal errors naming the team and the formula.
//
// When no formula asks for a resource any more, its onRemove policy
// applies: keep changes nothing; suspend removes team memberships and
// collaborator access, and the user's own repositories stay; delete
// deletes the repositories and removes memberships, but an
// organization's repository that has other collaborators keeps existing
// and only loses this user. Anything already gone counts as removed, and
// a resource two formulas ask for stays while either does. Gitea is read
// first and written only where it differs, so a converged user costs
// reads only; PlanResources reports the same steps without writing.
//
// # Errors
//
// 429 and 503 answers ask for a retry after Retry-After; other 5xx answers
// and network errors are retried; any other 4xx (a bad token, a missing
// organization, a validation error Gitea will repeat) is terminal
// (fanout.Terminal).
//
// # Configuration
//
// Under connectors.gitea in the service's configuration file:
//
//	connectors:
//	  gitea:
//	    url: https://git.example.com/
//	    authSourceID: 2            # Site Administration > Authentication Sources
//	    organization: platform     # teams for SCIM groups live here
//	    subjectAttribute: externalId
//	    teamPermission: read
//	    onDelete: suspend
//	    timeout: 15s
//	    tokenFile: /run/secrets/gitea-token  # or SCIMBRIDGE_GITEA_TOKEN
//
// The token belongs to a site administrator and needs every scope (at
// least write:admin, write:organization and read:user).
package gitea

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/scimbridge/scimbridge/fanout"
)

// TokenEnv is the environment variable LoadToken reads Gitea's admin
// token from.
const TokenEnv = "SCIMBRIDGE_GITEA_TOKEN"

// DefaultTimeout bounds each request to Gitea when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// maxIdleConns is how many idle connections to Gitea are kept for reuse.
const maxIdleConns = 32

// name is the connector's name in configuration, status and metrics.
const name = "gitea"

// Values of Config.OnDelete.
const (
	// OnDeleteSuspend prohibits the login and drops team memberships.
	OnDeleteSuspend = "suspend"
	// OnDeleteDelete does the same, then deletes the account.
	OnDeleteDelete = "delete"
)

// Config configures the Gitea connector. It is read from the YAML section
// connectors.gitea of the service's configuration file.
type Config struct {
	// URL is Gitea's base URL, its ROOT_URL, for example
	// "https://git.example.com/" (a sub-path is kept). Required.
	URL string `yaml:"url"`

	// AuthSourceID is the numeric id of the OAuth2 authentication source
	// people sign in through: the ID column of Site Administration >
	// Authentication Sources, or of "gitea admin auth list". Accounts are
	// bound to it so that the first OIDC login lands in them. Required.
	// Gitea's API cannot list authentication sources, so a wrong id shows
	// up as the first account creation failing with a terminal error.
	AuthSourceID int64 `yaml:"authSourceID"`

	// SubjectAttribute names the SCIM attribute that carries the user's
	// OIDC subject (the "sub" claim), which becomes the account's login
	// name. Default "externalId". Also accepted: "userName", "id", a
	// dotted path such as "name.familyName", or an extension attribute
	// such as
	// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber".
	// Names match case-insensitively; filters ("emails[...]") are not
	// supported.
	SubjectAttribute string `yaml:"subjectAttribute"`

	// Organization is the name of the Gitea organization in which each
	// SCIM group becomes a team. It must exist. Required.
	Organization string `yaml:"organization"`

	// TeamPermission is the access a team created for a group gets to
	// every repository unit (code, issues, pull requests, releases, wiki,
	// projects, packages, actions) of the repositories added to it: "read"
	// (default), "write" or "admin". A team gets no repository by itself,
	// and teams that already existed keep theirs.
	TeamPermission string `yaml:"teamPermission"`

	// OnDelete says what happens to the account of a user deleted in
	// SCIM: "suspend" (default) prohibits the login and removes the user
	// from the organization's teams, keeping the account and its data;
	// "delete" does the same and then deletes the account, which Gitea
	// refuses while the user still owns repositories, packages or
	// organizations.
	OnDelete string `yaml:"onDelete"`

	// Timeout bounds each request to Gitea. Default 15s.
	Timeout time.Duration `yaml:"timeout"`

	// TokenFile is a file holding the access token of a Gitea site
	// administrator, as an alternative to the SCIMBRIDGE_GITEA_TOKEN
	// environment variable (set one of the two). Surrounding white space
	// is ignored.
	TokenFile string `yaml:"tokenFile"`

	// Transport, when set, carries every request to Gitea (a proxy, an
	// instrumented transport); nil means a copy of http.DefaultTransport
	// that keeps more idle connections. It cannot be set from YAML.
	Transport http.RoundTripper `yaml:"-"`
}

// Connector provisions into one Gitea server. It is safe for concurrent
// use; its methods may be called for different keys at the same time.
type Connector struct {
	cfg     Config
	baseURL string // cfg.URL without a trailing slash
	token   string
	client  *http.Client
	log     *slog.Logger
	// subjectPath is the parsed SubjectAttribute; nil means externalId,
	// which the reconciler already puts in fanout.User.Subject.
	subjectPath []string
	// index finds accounts by login name without a search per user.
	index index
	// ensuring counts the EnsureUser calls under way.
	ensuring atomic.Int32
}

var _ fanout.Connector = (*Connector)(nil)

// Open checks cfg and returns a Connector that calls Gitea with token, an
// access token of a site administrator. It makes no request: Check does.
// logger may be nil. The token is never logged.
func Open(cfg Config, token string, logger *slog.Logger) (*Connector, error) {
	base, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.AuthSourceID <= 0 {
		return nil, fmt.Errorf("gitea: authSourceID must be the positive id of gitea's oauth2 authentication source, not %d", cfg.AuthSourceID)
	}
	cfg.Organization = strings.TrimSpace(cfg.Organization)
	if cfg.Organization == "" || strings.ContainsAny(cfg.Organization, "/?#") {
		return nil, fmt.Errorf("gitea: organization must name an organization, not %q", cfg.Organization)
	}
	path, err := parseAttributePath(cfg.SubjectAttribute)
	if err != nil {
		return nil, fmt.Errorf("gitea: subjectAttribute: %w", err)
	}
	switch cfg.TeamPermission {
	case "":
		cfg.TeamPermission = string(sdk.AccessModeRead)
	case string(sdk.AccessModeRead), string(sdk.AccessModeWrite), string(sdk.AccessModeAdmin):
	default:
		return nil, fmt.Errorf("gitea: teamPermission must be read, write or admin, not %q", cfg.TeamPermission)
	}
	switch cfg.OnDelete {
	case "":
		cfg.OnDelete = OnDeleteSuspend
	case OnDeleteSuspend, OnDeleteDelete:
	default:
		return nil, fmt.Errorf("gitea: onDelete must be %q or %q, not %q", OnDeleteSuspend, OnDeleteDelete, cfg.OnDelete)
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("gitea: timeout must not be negative, not %v", cfg.Timeout)
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("gitea: no access token (set %s or tokenFile)", TokenEnv)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	transport := cfg.Transport
	if transport == nil {
		// http.DefaultTransport keeps two idle connections per host, so
		// concurrent reconciles would keep opening new ones.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = maxIdleConns
		transport = t
	}
	return &Connector{
		cfg:         cfg,
		baseURL:     base,
		token:       token,
		client:      &http.Client{Transport: transport},
		log:         logger.With("connector", name),
		subjectPath: path,
	}, nil
}

func parseBaseURL(raw string) (string, error) {
	u, err := fanout.ParseServiceURL(name, raw)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// LoadToken returns the admin access token: the content of cfg.TokenFile
// when it is set, else the environment variable TokenEnv read through
// getenv (os.Getenv when nil). Setting both is an error, so that it is
// never unclear which token is used; so is setting neither.
func LoadToken(cfg Config, getenv func(string) string) (string, error) {
	return fanout.LoadToken(name, TokenEnv, cfg.TokenFile, getenv)
}

// Name returns "gitea".
func (c *Connector) Name() string { return name }

// Check verifies what can be verified through Gitea's API before the first
// reconcile: that Gitea answers, that the token is valid and belongs to a
// site administrator, and that Organization exists. It cannot check
// AuthSourceID, which the API does not expose. Errors are terminal when
// retrying cannot help.
func (c *Connector) Check(ctx context.Context) error {
	var me *sdk.User
	err := c.call(ctx, "check token", func(api *sdk.Client) (resp *sdk.Response, err error) {
		me, resp, err = api.GetMyUserInfo()
		return resp, err
	})
	if err != nil {
		return err
	}
	if !me.IsAdmin {
		return fanout.Terminal(fmt.Errorf("gitea: the token's user %q is not a site administrator", me.UserName))
	}
	err = c.call(ctx, "check organization", func(api *sdk.Client) (*sdk.Response, error) {
		_, resp, err := api.GetOrg(c.cfg.Organization)
		return resp, err
	})
	if isStatus(err, http.StatusNotFound) {
		return fanout.Terminal(fmt.Errorf("gitea: organization %q does not exist", c.cfg.Organization))
	}
	return err
}

// call runs one request under its own deadline, with a client bound to
// that deadline (the SDK takes its context per client, not per call), and
// classifies its error.
func (c *Connector) call(ctx context.Context, op string, fn func(api *sdk.Client) (*sdk.Response, error)) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	api, err := c.api(ctx)
	if err != nil {
		return fmt.Errorf("gitea: %s: %w", op, err)
	}
	resp, err := fn(api)
	if err != nil {
		return classify(op, resp, err)
	}
	return nil
}

func (c *Connector) api(ctx context.Context) (*sdk.Client, error) {
	return sdk.NewClient(c.baseURL,
		sdk.SetHTTPClient(c.client),
		sdk.SetToken(c.token),
		sdk.SetContext(ctx),
		sdk.SetUserAgent("scimbridge"),
		// Skip the version request NewClient would otherwise make.
		sdk.SetGiteaVersion(""),
	)
}

// pageSize is Gitea's default MAX_RESPONSE_ITEMS.
const pageSize = 50

// maxPages stops a listing whose Link header never ends.
const maxPages = 10000

// eachPage calls fetch for page 1 and every next page Gitea's Link header
// names, until fetch reports done or there is no next page.
func (c *Connector) eachPage(ctx context.Context, op string, fetch func(api *sdk.Client, page sdk.ListOptions) (resp *sdk.Response, done bool, err error)) error {
	page := 1
	for range maxPages {
		next, done := 0, false
		err := c.call(ctx, op, func(api *sdk.Client) (*sdk.Response, error) {
			resp, d, err := fetch(api, sdk.ListOptions{Page: page, PageSize: pageSize})
			if resp != nil {
				next = resp.NextPage
			}
			done = d
			return resp, err
		})
		if err != nil {
			return err
		}
		if done || next <= page {
			return nil
		}
		page = next
	}
	return fmt.Errorf("gitea: %s: more than %d pages", op, maxPages)
}
