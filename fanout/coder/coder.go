// Package coder provisions users and groups into Coder, so that a
// person's first sign-in through Coder's OpenID Connect login lands in an
// account prepared for them beforehand.
//
// # Accounts
//
// Coder recognises a person's first OIDC login by email: it looks for an
// account whose email equals the provider's email claim and, when that
// account has login type oidc, links it to the provider's issuer and
// subject for good. After that Coder finds the person by subject and
// copies the claim's email onto the account at every login. EnsureUser
// therefore creates the account through POST /api/v2/users
// (codersdk.Client.CreateUserWithOrgs) with login type oidc, no password,
// the configured organizations, a username derived from the SCIM userName
// (see below) and, as its email, the user's primary email (or the
// attribute named by emailAttribute), which must be the email claim Coder
// reads (CODER_OIDC_EMAIL_FIELD, "email" by default). A new account is
// dormant: it uses no seat until its first sign-in, which makes it active.
//
// An account is found, in this order:
//
//  1. by email, compared without case: the account the first login lands
//     in. It is adopted when its login type is oidc. An account with any
//     other login type (password, github, none) is never converted: Coder
//     refuses its OIDC login ("Incorrect login type"), so EnsureUser
//     returns a terminal error that names it. The person can convert it
//     to OIDC from their account settings, or an administrator can delete
//     it; the next pass then adopts or creates.
//  2. by the id returned last time (fanout.User.RemoteID), when no account
//     has the email: the IdP's email changed. Coder's API cannot change an
//     email, and Coder copies the new one at the person's next login, so
//     the account is kept and the result's note says so. An account that
//     was deleted in Coder is not used.
//  3. otherwise it is created. When Coder answers 409 (the username or the
//     email was taken meanwhile, by a concurrent pass or the person's own
//     first login), the account is looked for again and adopted.
//
// Everything else is converged on the found account: it is added to any
// configured organization it is missing from, and suspended or activated.
// EnsureUser never renames an account (usernames are part of workspace
// URLs) and leaves its name to Coder, which copies it from the provider
// at each login. A converged user costs one request.
//
// # Status
//
// active: false suspends the account (PUT /users/{id}/status/suspend):
// Coder then refuses the person's logins and tokens, and keeps their
// workspaces. active: true activates a suspended account; a dormant one is
// left dormant, since its first login activates it. A user deleted in
// SCIM is suspended the same way, and the account is kept with its
// workspaces (onDelete: suspend, the only policy). Their group
// memberships are removed by the groups' own passes, which the deletion
// queues. Coder refuses to suspend an owner and the token's own user;
// both give a terminal error.
//
// # Usernames
//
// A new account's username follows Coder's rules (codersdk.NameValid: 1 to
// 32 ASCII letters and digits in groups joined by single hyphens, and not
// "new" or "create") and is derived from the SCIM userName the way Coder
// names a person at their own first login (codersdk.UsernameFrom), minus
// its random fallback:
//
//   - a userName Coder accepts is kept as it is, case included ("alice",
//     "Alice-Smith"; Coder compares usernames without case);
//   - otherwise its part before the last '@' is taken, letters lose their
//     accents (æ, ø, ß, ł, œ, đ and þ are spelled out), every character
//     other than A-Z, a-z, 0-9 and '-' is removed, a run of '-' becomes one
//     and the name may neither start nor end with one, and it is cut to 32
//     characters: "alice.smith@example.com" gives "alicesmith",
//     "José García" gives "JoseGarcia", "o'brien_k" gives "obrienk";
//   - when nothing valid is left, the email's local part is tried the same
//     way, then "user-" and 8 hex digits of the email's SHA-256.
//
// When the name belongs to another account (one with another email), the
// account is created as the name cut to 27 characters, '-' and 4 hex
// digits of the email's SHA-256 ("alice-3f9a"): two people whose userNames
// map to one username get two accounts. When that name is taken too,
// EnsureUser returns a terminal error naming both accounts.
//
// # Groups
//
// Coder's groups need a Premium licence, so groups are off by default:
// with groups: false, EnsureGroup does nothing and returns an empty
// result. With groups: true, each SCIM group is one Coder group in the
// first configured organization. Its name is the group's displayName in
// lowercase under Coder's group-name rules (ASCII letters and digits in
// groups joined by single hyphens, at most 255 characters): accents are
// removed as for usernames and every run of other characters becomes one
// '-' ("Platform Team" gives "platform-team"); an empty result becomes
// "group-" and 8 hex digits of the displayName's SHA-256, a longer one is
// cut and given such a suffix, and "new" and "create" get "-group". Its
// display name is the displayName itself (white space collapsed, cut to
// Coder's 64 bytes).
//
// The group is found by the id returned last time (fanout.Group.RemoteID),
// so a renamed SCIM group renames its Coder group, else by name, and is
// created otherwise. A group found by name is adopted only when its
// display name is empty or equals the displayName: two SCIM groups whose
// names map to one Coder group ("Dev Ops" and "dev-ops") never share it;
// the second gets a terminal error. A group that Coder's own IdP group
// sync manages (source oidc) and the Everyone group are never adopted.
// Membership is made exactly equal to the group's members that have a
// Coder account (a RemoteID), in one PATCH; members not yet provisioned
// are skipped until their own pass. A deleted group is emptied and kept,
// with the template permissions given to it.
//
// # Formula resources
//
// The connector is a fanout.ResourceConnector: a user gets the Coder
// workspaces of the formulas bound to their groups (coder.workspaces; see
// package formulas), owned by their account, and a workspace no formula
// asks for any more gets its formula's onRemove policy. Other people's
// workspaces are an Owner's to manage: formula workspaces need the token
// of an Owner, since a User Admin may neither create nor build them.
//
// A workspace is looked for by owner and name (GET
// /api/v2/users/{id}/workspace/{name}; Coder compares names without
// case).
//
//   - Missing, it is created (POST /api/v2/users/{id}/workspaces) from
//     the template of that name in the first configured organization, at
//     the template's active version, with the formula's parameters as its
//     rich parameter values and, with preset, that version's preset of
//     that name, whose values win over the formula's as they do in Coder.
//     Before writing, the connector checks what Coder would refuse or
//     silently drop; each is a terminal error naming the workspace and
//     the formula: a template that does not exist, a preset the version
//     does not have, a parameter the template does not have (Coder would
//     drop its value, and the workspace would never match), a value
//     outside a parameter's options, a required parameter not set.
//   - Existing, it is adopted when its template is the formula's. One of
//     another template is never replaced, built or removed: that is a
//     terminal error naming both templates. The latest build's parameter
//     values are compared with the formula's and its preset's; when a
//     mutable parameter differs, one new build with the changed values is
//     queued, of the latest build's transition: a running workspace is
//     started again with them, a stopped one gets a stop build and stays
//     stopped (its next start uses them). An immutable parameter (mutable:
//     false) cannot change once a workspace exists, so a difference there
//     is left as it is: a warning is logged, a plan shows it as an update
//     "immutable parameter X cannot change ...: recreate the workspace to
//     apply", and nothing fails. Ephemeral parameters, which last one
//     build, are not compared. The connector does not move workspaces to
//     a newer template version (Coder's automatic updates do) and does not
//     start one that its owner stopped.
//   - Being deleted (its delete build under way), it is created again
//     once it is gone: the pass is retried.
//
// When no formula asks for a workspace any more: keep leaves it as it
// is; suspend (the default) queues a stop build unless it is stopped or
// stopping; delete queues a delete build. A workspace that is gone, or
// that has another template now (someone else's), counts as removed. A
// deleted user's workspaces get their policies too.
//
// Coder runs one build of a workspace at a time and refuses another with
// 409 meanwhile: while a build is pending or running, an update, a stop
// or a delete waits for a later pass, with an error that is retried. A
// converged workspace costs two reads (the workspace, its latest build's
// parameters), plus one for its presets when it names one. Workspaces are
// converged one by one, so that one that fails holds back no other; the
// errors are returned together, terminal only when each is. PlanResources
// reads the same and writes nothing; EnsureResources then does what it
// listed (an immutable parameter aside).
//
// # Errors
//
// 429 and 503 answers ask for a retry after their Retry-After; other 5xx
// answers, 408, unreadable answers, timeouts and network errors are
// retried; 401, 403 and any other 4xx (a bad token, a token without the
// Owner or User Admin role, a Coder without OIDC configured, a missing
// organization, a validation error Coder will repeat) are terminal
// (fanout.Terminal). The error carries Coder's own message.
//
// # Configuration
//
// Under connectors.coder in the service's configuration file:
//
//	connectors:
//	  coder:
//	    url: https://coder.example.com
//	    organizations: [coder]   # names or ids; default: the default organization
//	    emailAttribute: ""       # default: the primary email
//	    groups: false            # true needs Coder Premium
//	    onDelete: suspend
//	    timeout: 15s
//	    tokenFile: /run/secrets/coder-token  # or SCIMBRIDGE_CODER_TOKEN
//
// The token is a session or API token (coder tokens create) of a user
// with the Owner or User Admin role; formula workspaces need an Owner.
package coder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"

	"github.com/scimbridge/scimbridge/fanout"
)

// TokenEnv is the environment variable LoadToken reads Coder's token from.
const TokenEnv = "SCIMBRIDGE_CODER_TOKEN"

// DefaultTimeout bounds each request to Coder when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// OnDeleteSuspend is the only value of Config.OnDelete: a user deleted in
// SCIM is suspended and keeps the account and its workspaces.
const OnDeleteSuspend = "suspend"

// name is the connector's name in configuration, status and metrics.
const name = "coder"

// Config configures the Coder connector. It is read from the YAML section
// connectors.coder of the service's configuration file.
type Config struct {
	// URL is Coder's access URL, for example "https://coder.example.com".
	// Coder serves its API at the root of its host, so the URL has no
	// path. Required.
	URL string `yaml:"url"`

	// Organizations are the organizations, by name or id, every account
	// is made a member of; SCIM groups become groups of the first one.
	// Each must exist; they are looked up once, at the first call.
	// Default: Coder's default organization.
	Organizations []string `yaml:"organizations"`

	// EmailAttribute names the SCIM attribute that carries the email
	// Coder's OIDC login reads (its CODER_OIDC_EMAIL_FIELD claim). Default:
	// the primary email (emails[primary eq true], else the first). Also
	// accepted: "userName", a dotted path such as "name.formatted", or an
	// extension attribute such as
	// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber".
	// Names match case-insensitively; filters are not supported.
	EmailAttribute string `yaml:"emailAttribute"`

	// Groups makes each SCIM group a Coder group with the same members.
	// Coder's groups need a Premium licence. Default false: EnsureGroup
	// then does nothing.
	Groups bool `yaml:"groups"`

	// OnDelete says what happens to the account of a user deleted in
	// SCIM: "suspend" (the default and only value) suspends it and keeps
	// it with its workspaces.
	OnDelete string `yaml:"onDelete"`

	// Timeout bounds each request to Coder. Default 15s.
	Timeout time.Duration `yaml:"timeout"`

	// TokenFile is a file holding the session or API token of a Coder
	// user with the Owner or User Admin role, as an alternative to the
	// SCIMBRIDGE_CODER_TOKEN environment variable (set one of the two).
	// Surrounding white space is ignored.
	TokenFile string `yaml:"tokenFile"`

	// Transport, when set, carries every request to Coder (a proxy, an
	// instrumented transport); nil means http.DefaultTransport. It cannot
	// be set from YAML.
	Transport http.RoundTripper `yaml:"-"`
}

// Connector provisions into one Coder deployment. It is safe for
// concurrent use.
type Connector struct {
	cfg       Config
	api       *codersdk.Client
	log       *slog.Logger
	emailPath []string // parsed EmailAttribute; nil: the primary email

	orgMu sync.Mutex
	orgs  []codersdk.Organization // resolved Organizations, once

	// userAdmin is set by Check when the token's user is a User Admin
	// but not an Owner, so that a workspace Coder refuses says why.
	userAdmin atomic.Bool
}

var _ fanout.Connector = (*Connector)(nil)

// Open checks cfg and returns a Connector that calls Coder with token, a
// session or API token of an Owner or User Admin. It makes no request:
// Check does. logger may be nil. The token is never logged.
func Open(cfg Config, token string, logger *slog.Logger) (*Connector, error) {
	base, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	var orgs []string
	for _, o := range cfg.Organizations {
		o = strings.TrimSpace(o)
		if o == "" || strings.ContainsAny(o, "/?#") {
			return nil, fmt.Errorf("coder: organizations: %q is not an organization name or id", o)
		}
		orgs = append(orgs, o)
	}
	if len(orgs) == 0 {
		orgs = []string{codersdk.DefaultOrganization}
	}
	cfg.Organizations = orgs
	path, err := parseAttributePath(cfg.EmailAttribute)
	if err != nil {
		return nil, fmt.Errorf("coder: emailAttribute: %w", err)
	}
	switch cfg.OnDelete {
	case "":
		cfg.OnDelete = OnDeleteSuspend
	case OnDeleteSuspend:
	default:
		return nil, fmt.Errorf("coder: onDelete must be %q (coder keeps a deleted user's account suspended, with its workspaces), not %q", OnDeleteSuspend, cfg.OnDelete)
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("coder: timeout must not be negative, not %v", cfg.Timeout)
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("coder: no token (set %s or tokenFile)", TokenEnv)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	next := cfg.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	api := codersdk.New(base, codersdk.WithHTTPClient(&http.Client{
		Transport: statusRecorder{next: next},
		Timeout:   cfg.Timeout,
	}))
	api.SetSessionToken(token)
	return &Connector{
		cfg:       cfg,
		api:       api,
		log:       logger.With("connector", name),
		emailPath: path,
	}, nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := fanout.ParseServiceURL(name, raw)
	if err != nil {
		return nil, err
	}
	if u.Path != "" {
		return nil, fmt.Errorf("coder: url %q: coder serves its api at the root of its access url; want no path", raw)
	}
	return u, nil
}

// LoadToken returns Coder's token: the content of cfg.TokenFile when it is
// set, else the environment variable TokenEnv read through getenv
// (os.Getenv when nil). Setting both is an error, so that it is never
// unclear which token is used; so is setting neither.
func LoadToken(cfg Config, getenv func(string) string) (string, error) {
	return fanout.LoadToken(name, TokenEnv, cfg.TokenFile, getenv)
}

// Name returns "coder".
func (c *Connector) Name() string { return name }

// Check verifies before the first reconcile what the connector needs:
// that Coder answers and has OIDC configured, that the token is valid and
// its user is an Owner or a User Admin, that the organizations exist and,
// with groups: true, that Coder's licence includes groups (Template RBAC).
// Errors are terminal when retrying cannot help.
func (c *Connector) Check(ctx context.Context) error {
	var methods codersdk.AuthMethods
	if err := c.call(ctx, "check auth methods", func(ctx context.Context) (err error) {
		methods, err = c.api.AuthMethods(ctx)
		return err
	}); err != nil {
		return err
	}
	if !methods.OIDC.Enabled {
		return fanout.Terminal(errors.New("coder: coder has no OIDC login configured, so it cannot create accounts that sign in through the identity provider"))
	}
	var me codersdk.User
	if err := c.call(ctx, "check token", func(ctx context.Context) (err error) {
		me, err = c.api.User(ctx, codersdk.Me)
		return err
	}); err != nil {
		return err
	}
	owner, userAdmin := false, false
	for _, r := range me.Roles {
		owner = owner || r.Name == codersdk.RoleOwner
		userAdmin = userAdmin || r.Name == codersdk.RoleUserAdmin
	}
	if !owner && !userAdmin {
		return fanout.Terminal(fmt.Errorf("coder: the token's user %q is neither an Owner nor a User Admin", me.Username))
	}
	c.userAdmin.Store(!owner)
	if !owner {
		c.log.WarnContext(ctx, "the token's user is a User Admin, not an Owner: accounts and groups are provisioned, but formula workspaces need an Owner's token",
			"token_user", me.Username)
	}
	if _, err := c.organizations(ctx); err != nil {
		return err
	}
	if !c.cfg.Groups {
		return nil
	}
	var ent codersdk.Entitlements
	err := c.call(ctx, "check licence", func(ctx context.Context) (err error) {
		ent, err = c.api.Entitlements(ctx)
		return err
	})
	if isStatus(err, http.StatusNotFound) {
		// The open-source build has no entitlements and no groups.
		return fanout.Terminal(errors.New("coder: groups: true needs coder premium, and this coder has no licensing (groups are not available)"))
	}
	if err != nil {
		return err
	}
	if f := ent.Features[codersdk.FeatureTemplateRBAC]; !f.Enabled {
		return fanout.Terminal(errors.New("coder: groups: true needs coder premium (template rbac), which this coder's licence does not include"))
	}
	return nil
}

// call runs one request under its own deadline and classifies its error.
func (c *Connector) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	rec := &answer{}
	err := fn(context.WithValue(ctx, answerKey{}, rec))
	if err != nil {
		return classify(op, rec, err)
	}
	return nil
}

// organizations resolves Config.Organizations once; the first success is
// kept for the connector's life.
func (c *Connector) organizations(ctx context.Context) ([]codersdk.Organization, error) {
	c.orgMu.Lock()
	defer c.orgMu.Unlock()
	if c.orgs != nil {
		return c.orgs, nil
	}
	var orgs []codersdk.Organization
	seen := map[uuid.UUID]bool{}
	for _, ref := range c.cfg.Organizations {
		var o codersdk.Organization
		err := c.call(ctx, fmt.Sprintf("get organization %q", ref), func(ctx context.Context) (err error) {
			o, err = c.api.OrganizationByName(ctx, ref)
			return err
		})
		if isStatus(err, http.StatusNotFound) {
			return nil, fanout.Terminal(fmt.Errorf("coder: organization %q does not exist", ref))
		}
		if err != nil {
			return nil, err
		}
		if !seen[o.ID] {
			seen[o.ID] = true
			orgs = append(orgs, o)
		}
	}
	c.orgs = orgs
	return orgs, nil
}
