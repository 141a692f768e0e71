// Package twenty provisions users and groups into Twenty CRM through the
// workspace's GraphQL API, so that everyone the identity provider knows
// is a Person in the CRM, and, optionally, every group a Company.
//
// # People
//
// A Person is a CRM record, not a login: Twenty signs its own users in
// separately, so there is no OIDC link to set. EnsureUser keeps one
// person per user, keyed by the primary email, which Twenty stores in
// lower case and keeps unique among people. The person is found, in this
// order:
//
//  1. by the id returned last time (fanout.User.RemoteID), so that a
//     changed email is applied to the same person;
//  2. by the primary email: a person someone entered by hand, or an
//     earlier import, is adopted ("adopted existing person by email");
//  3. in Twenty's trash (soft-deleted), by id and then by email: such a
//     person is restored with its notes, tasks and history rather than
//     duplicated. Twenty keeps the email of a trashed person reserved in
//     its unique index, so creating a new one would fail anyway.
//  4. otherwise it is created with createPerson(upsert: true). Should a
//     person with that email have appeared since the lookup, Twenty
//     versions whose upsert matches unique fields update it, and the
//     others report a duplicate, after which that person is looked up
//     and adopted.
//
// A converged user costs one query. Twenty is written to only when the
// person's email (emails.primaryEmail) or name (name.firstName from
// name.givenName, name.lastName from name.familyName; displayName as the
// first name when both are empty) differs, because every write adds an
// entry to the person's timeline. A user without a name leaves the
// person's name as it is. A user without an email is refused with a
// terminal error: the email is what keys a person. When the linked person
// and another one with the user's new email both exist, EnsureUser stops
// with a terminal error that names both: merge them in Twenty, and the
// next pass links the one that is left.
//
// Twenty has no suspension: an inactive user (active: false) keeps the
// person as it is, still updated, because a CRM record of someone who
// cannot sign in anywhere is still a valid record. A deleted user's
// person is kept (onDelete: keep, the default) or moved to Twenty's trash
// with deletePerson (onDelete: softDelete), from where an operator, or
// EnsureUser for a user who comes back, can restore it. Nothing is ever
// destroyed. A deleted user is known by the id of last time only.
//
// # Groups
//
// With groupCompanies: true, each SCIM group is a Company of the same
// name, and its members' people belong to it (person.companyId). The
// company is found by the id returned last time (a renamed group renames
// it; one in the trash is restored), else by name: Twenty does not keep
// company names unique, so the oldest live company with that name is
// adopted. Otherwise it is created.
//
// Membership is kept equal to the group's members that have a person (a
// RemoteID; members not yet provisioned are skipped until their own
// pass): a member without a company is given the group's, and a person
// of the company who is not a member has companyId cleared. A person
// holds one company only, so a member who belongs to another company
// (someone set it in the CRM, or another group's company holds them) is
// left there, and the result's note says how many were. Every write is
// guarded by a filter on the current companyId, so a change someone
// makes at the same time is not overwritten. A deleted group's company
// is kept, with its people detached. With groupCompanies: false (the
// default) EnsureGroup does nothing.
//
// # Formula resources
//
// The connector is a fanout.ResourceConnector. A formula's twenty.person
// gives the user's person the formula's jobTitle and city, two text
// fields of Twenty's standard Person object, when it sets them; a field
// the formula leaves empty is not touched. A person already right costs
// one query and no write; otherwise one updatePerson writes the fields
// that differ. The person itself is EnsureUser's: every user has one,
// with or without formulas, so person: {} asks for nothing more and costs
// nothing.
//
// When no formula asks for the person any more (the user left the bound
// group, or the binding went), its onRemove policy applies:
//
//   - keep: the fields stay as they are.
//   - suspend (the default): the fields the formula set are cleared, and
//     the record stays with its notes and history. A field that no longer
//     holds the formula's value (someone edited it in Twenty) is someone
//     else's now and is left alone.
//   - delete: the person of a user deleted in SCIM is moved to Twenty's
//     trash (deletePerson), whatever onDelete says, from where it can be
//     restored. The person of a user who still exists stays, with the
//     fields cleared as with suspend: it is that user's record in the
//     CRM, and EnsureUser keeps a live person for every user, so trashing
//     it would only see it restored at the user's next change.
//
// A field the formulas stop setting, while they still ask for the person,
// is cleared in the same way unless the policy is keep. A person already
// in the trash is left as it is. The removal is done once: a pass that
// fails returns what it was given, and the next one reads Twenty again.
// PlanResources reads the person and reports the same, writing nothing:
// create (the user has no person yet), update with each field's old and
// new value, remove ("clear jobTitle and city", or "delete"), or keep.
//
// # Errors
//
// Twenty answers most errors as GraphQL errors in a 200 answer, with a
// code in extensions.code. UNAUTHENTICATED (a wrong or expired API key),
// FORBIDDEN (a role without the right), BAD_USER_INPUT and the schema
// errors GRAPHQL_VALIDATION_FAILED and GRAPHQL_PARSE_FAILED (a workspace
// whose Person or Company object lacks a standard field) are terminal
// (fanout.Terminal); NOT_FOUND (a record that went away since it was
// read), TIMEOUT, INTERNAL_SERVER_ERROR and unknown codes are retried.
// At the HTTP level, 429 and 503 ask for a retry after Retry-After;
// other 5xx answers, 408 and network errors are retried; other 4xx
// answers are terminal.
//
// # Configuration
//
// Under connectors.twenty in the service's configuration file:
//
//	connectors:
//	  twenty:
//	    url: https://crm.example.com    # GraphQL is served at <url>/graphql
//	    onDelete: keep                  # or softDelete
//	    groupCompanies: false
//	    timeout: 15s
//	    tokenFile: /run/secrets/twenty-api-key  # or SCIMBRIDGE_TWENTY_TOKEN
//
// The token is an API key of the workspace (Settings > APIs & Webhooks)
// whose role may read and write People, and Companies with
// groupCompanies.
package twenty

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	graphql "github.com/hasura/go-graphql-client"

	"github.com/scimbridge/scimbridge/fanout"
)

// TokenEnv is the environment variable LoadToken reads the API key from.
const TokenEnv = "SCIMBRIDGE_TWENTY_TOKEN"

// DefaultTimeout bounds each request to Twenty when Config.Timeout is
// zero.
const DefaultTimeout = 15 * time.Second

// name is the connector's name in configuration, status and metrics.
const name = "twenty"

// Values of Config.OnDelete.
const (
	// OnDeleteKeep leaves a deleted user's person as it is.
	OnDeleteKeep = "keep"
	// OnDeleteSoftDelete moves a deleted user's person to Twenty's trash.
	OnDeleteSoftDelete = "softDelete"
)

// Config configures the Twenty connector. It is read from the YAML
// section connectors.twenty of the service's configuration file.
type Config struct {
	// URL is Twenty's base URL, for example "https://crm.example.com" (a
	// sub-path is kept). The GraphQL API is <url>/graphql; a URL that
	// already ends in /graphql is taken as that endpoint. Required.
	URL string `yaml:"url"`

	// OnDelete says what happens to the person of a user deleted in SCIM:
	// "keep" (default) leaves it as it is; "softDelete" moves it to
	// Twenty's trash (deletePerson), from where it can be restored.
	OnDelete string `yaml:"onDelete"`

	// GroupCompanies makes each SCIM group a Company of the same name
	// that its members' people belong to. Default false: groups are not
	// provisioned.
	GroupCompanies bool `yaml:"groupCompanies"`

	// Timeout bounds each request to Twenty. Default 15s.
	Timeout time.Duration `yaml:"timeout"`

	// TokenFile is a file holding a Twenty API key, as an alternative to
	// the SCIMBRIDGE_TWENTY_TOKEN environment variable (set one of the
	// two). Surrounding white space is ignored.
	TokenFile string `yaml:"tokenFile"`

	// Transport, when set, carries every request to Twenty (a proxy, an
	// instrumented transport); nil means http.DefaultTransport. It cannot
	// be set from YAML.
	Transport http.RoundTripper `yaml:"-"`
}

// Connector provisions into one Twenty workspace. It is safe for
// concurrent use.
type Connector struct {
	cfg      Config
	endpoint string // <url>/graphql
	api      *graphql.Client
	log      *slog.Logger
}

var _ fanout.Connector = (*Connector)(nil)

// Open checks cfg and returns a Connector that calls Twenty with token, a
// workspace API key. It makes no request: Check does. logger may be nil.
// The token is never logged.
func Open(cfg Config, token string, logger *slog.Logger) (*Connector, error) {
	endpoint, err := parseEndpoint(cfg.URL)
	if err != nil {
		return nil, err
	}
	switch cfg.OnDelete {
	case "":
		cfg.OnDelete = OnDeleteKeep
	case OnDeleteKeep, OnDeleteSoftDelete:
	default:
		return nil, fmt.Errorf("twenty: onDelete must be %q or %q, not %q", OnDeleteKeep, OnDeleteSoftDelete, cfg.OnDelete)
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("twenty: timeout must not be negative, not %v", cfg.Timeout)
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("twenty: no API key (set %s or tokenFile)", TokenEnv)
	}
	if strings.ContainsAny(token, "\r\n") {
		return nil, errors.New("twenty: the API key contains a line break")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	auth := "Bearer " + token
	api := graphql.NewClient(endpoint, &http.Client{Transport: cfg.Transport}).
		WithRequestModifier(func(r *http.Request) {
			r.Header.Set("Authorization", auth)
			r.Header.Set("Accept", "application/json")
			r.Header.Set("User-Agent", "scimbridge")
		})
	return &Connector{cfg: cfg, endpoint: endpoint, api: api, log: logger.With("connector", name)}, nil
}

func parseEndpoint(raw string) (string, error) {
	u, err := fanout.ParseServiceURL(name, raw)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(u.String(), "/graphql") + "/graphql", nil
}

// LoadToken returns the API key: the content of cfg.TokenFile when it is
// set, else the environment variable TokenEnv read through getenv
// (os.Getenv when nil). Setting both is an error, so that it is never
// unclear which key is used; so is setting neither.
func LoadToken(cfg Config, getenv func(string) string) (string, error) {
	return fanout.LoadToken(name, TokenEnv, cfg.TokenFile, getenv)
}

// Name returns "twenty".
func (c *Connector) Name() string { return name }

// Check makes one cheap authenticated query: it verifies that Twenty
// answers, that the API key is valid and that its role can read People
// (and Companies, with groupCompanies). Errors are terminal when retrying
// cannot help.
func (c *Connector) Check(ctx context.Context) error {
	if c.cfg.GroupCompanies {
		var q struct {
			People    struct{ TotalCount int } `graphql:"people(first: 1)"`
			Companies struct{ TotalCount int } `graphql:"companies(first: 1)"`
		}
		return c.query(ctx, "check", &q, nil)
	}
	var q struct {
		People struct{ TotalCount int } `graphql:"people(first: 1)"`
	}
	return c.query(ctx, "check", &q, nil)
}

// query runs one GraphQL query under its own deadline and classifies its
// error.
func (c *Connector) query(ctx context.Context, op string, q any, vars map[string]any) error {
	return c.do(ctx, op, false, q, vars)
}

// mutate runs one GraphQL mutation under its own deadline and classifies
// its error.
func (c *Connector) mutate(ctx context.Context, op string, m any, vars map[string]any) error {
	return c.do(ctx, op, true, m, vars)
}

func (c *Connector) do(ctx context.Context, op string, mutation bool, v any, vars map[string]any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	header := http.Header{}
	opts := []graphql.Option{graphql.BindResponseHeaders(&header)}
	var err error
	if mutation {
		err = c.api.Mutate(ctx, v, vars, opts...)
	} else {
		err = c.api.Query(ctx, v, vars, opts...)
	}
	if err != nil {
		return classify(op, header, err)
	}
	return nil
}
