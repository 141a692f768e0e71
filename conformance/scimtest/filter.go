package scimtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// people are three users sharing a unique prefix, with attributes chosen
// so that each filter below matches a known subset:
//
//	alice: title Engineer, active, externalId "Ext-<p>A",
//	       emails work <p>alice@x.example (primary), home <p>alice@home.example
//	bob:   title Manager, inactive, externalId "ext-<p>b",
//	       emails work <p>bob@y.example (primary), home <p>bob@x.example
//	carol: no title, active, no externalId,
//	       emails home <p>carol@x.example (primary)
//
// The prefix is "scimtest-<hex>-"; it holds none of the letters the
// filters look for (o, r, l, b).
type people struct {
	prefix            string
	alice, bob, carol obj
}

// name returns the userName of the person called label.
func (p *people) name(label string) string { return p.prefix + label }

// newPeople creates the three users.
func (c *Client) newPeople(ctx context.Context) (*people, error) {
	p := &people{prefix: uniqueName("")}
	mk := func(label, title, externalID string, active bool, emails ...obj) (obj, error) {
		b := userBody(p.name(label))
		b["name"] = obj{"givenName": strings.ToUpper(label[:1]) + label[1:], "familyName": "Test"}
		b["active"] = active
		if title != "" {
			b["title"] = title
		}
		if externalID != "" {
			b["externalId"] = externalID
		}
		l := make([]any, len(emails))
		for i, e := range emails {
			l[i] = e
		}
		b["emails"] = l
		return c.createUser(ctx, b)
	}
	email := func(value, typ string, primary bool) obj {
		return obj{"value": p.prefix + value, "type": typ, "primary": primary}
	}
	var err error
	if p.alice, err = mk("alice", "Engineer", "Ext-"+p.prefix+"A", true,
		email("alice@x.example", "work", true), email("alice@home.example", "home", false)); err != nil {
		return nil, err
	}
	if p.bob, err = mk("bob", "Manager", "ext-"+p.prefix+"b", false,
		email("bob@y.example", "work", true), email("bob@x.example", "home", false)); err != nil {
		return nil, err
	}
	if p.carol, err = mk("carol", "", "", true, email("carol@x.example", "home", true)); err != nil {
		return nil, err
	}
	return p, nil
}

// filterCase is one filter and the people it must match.
type filterCase struct {
	name    string
	section string
	filter  func(p *people) string
	want    []string
}

func filterCases() []filterCase {
	const s = "RFC 7644 §3.4.2.2"
	q := func(format string, labels ...string) func(p *people) string {
		return func(p *people) string {
			args := make([]any, len(labels))
			for i, l := range labels {
				args[i] = p.name(l)
			}
			return fmt.Sprintf(format, args...)
		}
	}
	lit := func(f string) func(*people) string { return func(*people) string { return f } }
	return []filterCase{
		{"filter eq", s, q(`userName eq "%s"`, "bob"), []string{"bob"}},
		{"filter ne", s, lit(`name.givenName ne "Alice"`), []string{"bob", "carol"}},
		{"filter co", s, lit(`userName co "aro"`), []string{"carol"}},
		{"filter sw", s, q(`userName sw "%sal"`, ""), []string{"alice"}},
		{"filter ew", s, lit(`userName ew "rol"`), []string{"carol"}},
		{"filter gt", s, q(`userName gt "%s"`, "bob"), []string{"carol"}},
		{"filter ge", s, q(`userName ge "%s"`, "bob"), []string{"bob", "carol"}},
		{"filter lt", s, q(`userName lt "%s"`, "bob"), []string{"alice"}},
		{"filter le", s, q(`userName le "%s"`, "bob"), []string{"alice", "bob"}},
		{"filter pr", s, lit(`title pr`), []string{"alice", "bob"}},
		{"filter and", s, lit(`title eq "Engineer" and active eq true`), []string{"alice"}},
		{"filter or", s, q(`userName eq "%s" or userName eq "%s"`, "alice", "carol"), []string{"alice", "carol"}},
		{"filter not", s, q(`not (userName eq "%s")`, "bob"), []string{"alice", "carol"}},
		{"filter grouping overrides precedence", s, q(`(userName eq "%s" or userName eq "%s") and active eq true`, "bob", "carol"), []string{"carol"}},
		{"filter and binds tighter than or", s, q(`userName eq "%s" or userName eq "%s" and active eq true`, "bob", "carol"), []string{"bob", "carol"}},
		{"filter value path matches within one value", s, lit(`emails[type eq "work" and value co "@x"]`), []string{"alice"}},
		{"filter sub-attribute of a multi-valued attribute", s, q(`emails.value eq "%s@x.example"`, "bob"), []string{"bob"}},
		{"filter userName eq is case-insensitive", s, func(p *people) string {
			return `userName eq "` + strings.ToUpper(p.name("alice")) + `"`
		}, []string{"alice"}},
		{"filter externalId eq is case-sensitive", s, func(p *people) string {
			return `externalId eq "Ext-` + p.prefix + `A" or externalId eq "EXT-` + p.prefix + `B"`
		}, []string{"alice"}},
		{"filter attribute names and operators are case-insensitive", s, q(`USERNAME EQ "%s"`, "carol"), []string{"carol"}},
	}
}

func filterChecks() []Check {
	var checks []Check
	for _, fc := range filterCases() {
		checks = append(checks, Check{Name: fc.name, Section: fc.section, Run: func(ctx context.Context, c *Client) error {
			if err := c.require(ctx, "filter"); err != nil {
				return err
			}
			p, err := c.newPeople(ctx)
			if err != nil {
				return err
			}
			return p.expectMatch(ctx, c, fc.filter(p), fc.want...)
		}})
	}
	return append(checks,
		Check{Name: "filter meta.lastModified gt compares dateTimes", Section: "RFC 7644 §3.4.2.2", Run: checkFilterLastModified},
		Check{Name: "invalid filter is 400 invalidFilter", Section: "RFC 7644 §3.4.2.2", Run: checkInvalidFilter},
		Check{Name: "filter on an unknown attribute is 400 invalidFilter", Section: "RFC 7644 §3.4.2.2", Run: checkFilterUnknownAttribute},
		Check{Name: "POST .search filters like GET", Section: "RFC 7644 §3.4.3", Run: checkSearch},
	)
}

// expectMatch runs filter, restricted to p, on /Users and expects exactly
// the people called labels.
func (p *people) expectMatch(ctx context.Context, c *Client, filter string, labels ...string) error {
	full := "(" + filter + `) and userName sw "` + p.prefix + `"`
	got, err := c.filterNames(ctx, "/Users", full, "userName")
	if err != nil {
		return err
	}
	want := make([]string, len(labels))
	for i, l := range labels {
		want[i] = p.name(l)
	}
	return sameNames("filter "+full, got, want)
}

func checkFilterLastModified(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "filter"); err != nil {
		return err
	}
	p, err := c.newPeople(ctx)
	if err != nil {
		return err
	}
	first, err := time.Parse(time.RFC3339Nano, str(p.alice, "meta", "lastModified"))
	if err != nil {
		return fmt.Errorf("POST /Users: expected meta.lastModified as an RFC 3339 dateTime, got %q", str(p.alice, "meta", "lastModified"))
	}
	// An hour before alice was created, written in another time zone: as a
	// string it sorts after alice's timestamp, as a dateTime before it.
	before := first.Add(-time.Hour).In(time.FixedZone("", 2*60*60)).Format(time.RFC3339)
	if err := p.expectMatch(ctx, c, `meta.lastModified gt "`+before+`"`, "alice", "bob", "carol"); err != nil {
		return err
	}
	return p.expectMatch(ctx, c, `meta.lastModified lt "`+before+`"`)
}

func checkInvalidFilter(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "filter"); err != nil {
		return err
	}
	for _, f := range []string{`userName eq`, `userName xx "a"`, `(userName eq "a"`, `userName eq "a" and`, `userName eq "unterminated`} {
		r, err := c.do(ctx, http.MethodGet, "/Users?filter="+url.QueryEscape(f), nil)
		if err != nil {
			return err
		}
		if err := r.expectError(http.StatusBadRequest, "invalidFilter"); err != nil {
			return err
		}
	}
	return nil
}

func checkFilterUnknownAttribute(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "filter"); err != nil {
		return err
	}
	r, err := c.do(ctx, http.MethodGet, "/Users?filter="+url.QueryEscape(`scimtestNoSuchAttribute eq "x"`), nil)
	if err != nil {
		return err
	}
	return r.expectError(http.StatusBadRequest, "invalidFilter")
}

func checkSearch(ctx context.Context, c *Client) error {
	if err := c.require(ctx, "filter"); err != nil {
		return err
	}
	p, err := c.newPeople(ctx)
	if err != nil {
		return err
	}
	filter := `title pr and userName sw "` + p.prefix + `"`
	r, err := c.do(ctx, http.MethodPost, "/Users/.search", obj{
		"schemas":    []any{urnSearch},
		"filter":     filter,
		"startIndex": 1,
		"count":      10,
	})
	if err != nil {
		return err
	}
	res, err := listResponse(r)
	if err != nil {
		return err
	}
	return sameNames("POST /Users/.search filter "+filter, names(res, "userName"), []string{p.name("alice"), p.name("bob")})
}
