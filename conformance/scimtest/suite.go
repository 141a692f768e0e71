package scimtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ErrNotAdvertised is wrapped by the error of a check that did not run
// because the service provider's discovery endpoints say it does not
// support the feature the check is about. It is neither a pass nor a
// failure.
var ErrNotAdvertised = errors.New("not advertised")

// Check is one conformance check.
type Check struct {
	// Name says what is checked, for example "create user returns 201
	// with Location". Names are unique and contain no slash.
	Name string
	// Section is the RFC section the check exercises, for example
	// "RFC 7644 §3.3".
	Section string
	// Run performs the check with c and returns nil if the server
	// conforms, an error wrapping ErrNotAdvertised if the server does not
	// advertise the feature, or an error saying what was expected and
	// what came back. Resources Run creates through c are deleted by
	// c.Close.
	Run func(ctx context.Context, c *Client) error
}

// Result is the outcome of one Check.
type Result struct {
	// Check is the check that ran.
	Check Check
	// Err is nil for a pass; see Skipped and Failed.
	Err error
	// Duration is how long the check took, its cleanup included.
	Duration time.Duration
}

// Passed reports whether the check passed.
func (r Result) Passed() bool { return r.Err == nil }

// Skipped reports whether the check did not run because the server does
// not advertise the feature.
func (r Result) Skipped() bool { return errors.Is(r.Err, ErrNotAdvertised) }

// Failed reports whether the server did not conform.
func (r Result) Failed() bool { return r.Err != nil && !r.Skipped() }

// String renders the result as one progress line, for example
// "PASS RFC 7644 §3.3 create user returns 201 with Location (12ms)".
func (r Result) String() string {
	d := r.Duration.Round(time.Millisecond)
	switch {
	case r.Passed():
		return fmt.Sprintf("PASS %s %s (%s)", r.Check.Section, r.Check.Name, d)
	case r.Skipped():
		return fmt.Sprintf("SKIP %s %s (%s): %v", r.Check.Section, r.Check.Name, d, r.Err)
	default:
		return fmt.Sprintf("FAIL %s %s (%s): %v", r.Check.Section, r.Check.Name, d, r.Err)
	}
}

// cleanupTimeout bounds the deletions after each check, which run even
// when the check's context is cancelled.
const cleanupTimeout = 30 * time.Second

// RunAll runs every check of Checks in order against the server cfg names
// and writes one line per check to progress (which may be nil).
func RunAll(ctx context.Context, cfg Config, progress io.Writer) []Result {
	if progress == nil {
		progress = io.Discard
	}
	root := NewClient(cfg)
	var results []Result
	for _, check := range Checks() {
		res := runOne(ctx, root.fork(), check)
		fmt.Fprintln(progress, res)
		results = append(results, res)
	}
	return results
}

// runOne runs check with c and then deletes what it left behind.
func runOne(ctx context.Context, c *Client, check Check) Result {
	start := time.Now()
	err := check.Run(ctx, c)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if cerr := c.Close(cctx); cerr != nil && !errors.Is(err, ErrNotAdvertised) {
		err = errors.Join(err, cerr)
	}
	return Result{Check: check, Err: err, Duration: time.Since(start)}
}

// Test runs every check of Checks as a subtest of t named after the check.
// A check of a feature the server does not advertise is skipped.
func Test(t *testing.T, cfg Config) {
	t.Helper()
	root := NewClient(cfg)
	for _, check := range Checks() {
		t.Run(check.Name, func(t *testing.T) {
			res := runOne(t.Context(), root.fork(), check)
			switch {
			case res.Skipped():
				t.Skipf("%s: %v", check.Section, res.Err)
			case res.Failed():
				t.Fatalf("%s: %v", check.Section, res.Err)
			}
		})
	}
}

// Checks returns every check, in the order RunAll runs them.
func Checks() []Check {
	var all []Check
	for _, group := range [][]Check{
		authChecks(),
		discoveryChecks(),
		createChecks(),
		readChecks(),
		filterChecks(),
		pagingChecks(),
		projectionChecks(),
		replaceChecks(),
		patchChecks(),
		deleteChecks(),
		versionChecks(),
		groupChecks(),
		bulkChecks(),
		errorChecks(),
	} {
		all = append(all, group...)
	}
	return all
}

// discovery caches the discovery documents for the Clients of one run.
type discovery struct {
	mu      sync.Mutex
	spc     obj
	types   []any
	schemas map[string]obj
}

// serviceProviderConfig returns GET /ServiceProviderConfig (RFC 7644 §4),
// read once per run.
func (c *Client) serviceProviderConfig(ctx context.Context) (obj, error) {
	c.disc.mu.Lock()
	defer c.disc.mu.Unlock()
	if c.disc.spc != nil {
		return c.disc.spc, nil
	}
	r, err := c.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil)
	if err != nil {
		return nil, err
	}
	if err := r.expect(http.StatusOK); err != nil {
		return nil, err
	}
	if r.obj == nil {
		return nil, r.errorf("expected a JSON object")
	}
	c.disc.spc = r.obj
	return r.obj, nil
}

// resourceTypes returns the resources of GET /ResourceTypes, read once
// per run.
func (c *Client) resourceTypes(ctx context.Context) ([]any, error) {
	c.disc.mu.Lock()
	defer c.disc.mu.Unlock()
	if c.disc.types != nil {
		return c.disc.types, nil
	}
	r, err := c.do(ctx, http.MethodGet, "/ResourceTypes", nil)
	if err != nil {
		return nil, err
	}
	if err := r.expect(http.StatusOK); err != nil {
		return nil, err
	}
	res, ok := lookup(r.obj, "Resources").([]any)
	if !ok {
		return nil, r.errorf("expected a ListResponse with Resources")
	}
	c.disc.types = res
	return res, nil
}

// schema returns GET /Schemas/{urn}, read once per run.
func (c *Client) schema(ctx context.Context, urn string) (obj, error) {
	c.disc.mu.Lock()
	defer c.disc.mu.Unlock()
	if s, ok := c.disc.schemas[urn]; ok {
		return s, nil
	}
	r, err := c.do(ctx, http.MethodGet, "/Schemas/"+urn, nil)
	if err != nil {
		return nil, err
	}
	if err := r.expect(http.StatusOK); err != nil {
		return nil, err
	}
	if r.obj == nil {
		return nil, r.errorf("expected a JSON object")
	}
	if c.disc.schemas == nil {
		c.disc.schemas = map[string]obj{}
	}
	c.disc.schemas[urn] = r.obj
	return r.obj, nil
}

// require returns nil if the service provider configuration says feature
// ("patch", "bulk", "filter", "sort", "etag", "changePassword") is
// supported (RFC 7643 §5), an error wrapping ErrNotAdvertised if it says
// the feature is not, and another error if it says neither: only what the
// server states is grounds for skipping.
func (c *Client) require(ctx context.Context, feature string) error {
	spc, err := c.serviceProviderConfig(ctx)
	if err != nil {
		return fmt.Errorf("read service provider config: %w", err)
	}
	b, ok := lookup(spc, feature, "supported").(bool)
	if !ok {
		return fmt.Errorf("GET /ServiceProviderConfig: expected %s.supported as a boolean, got %v", feature, lookup(spc, feature, "supported"))
	}
	if !b {
		return fmt.Errorf("%w: /ServiceProviderConfig %s.supported is false", ErrNotAdvertised, feature)
	}
	return nil
}

// resourceType returns the resource type called name ("User", "Group")
// from /ResourceTypes, or an error wrapping ErrNotAdvertised.
func (c *Client) resourceType(ctx context.Context, name string) (obj, error) {
	types, err := c.resourceTypes(ctx)
	if err != nil {
		return nil, fmt.Errorf("read resource types: %w", err)
	}
	for _, t := range types {
		if strings.EqualFold(str(t, "name"), name) {
			if o, ok := t.(obj); ok {
				return o, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: /ResourceTypes lists no %s", ErrNotAdvertised, name)
}

// requireGroups returns an error wrapping ErrNotAdvertised unless the
// server offers a Group resource type.
func (c *Client) requireGroups(ctx context.Context) error {
	_, err := c.resourceType(ctx, "Group")
	return err
}

// requireEnterprise returns an error wrapping ErrNotAdvertised unless the
// User resource type lists the enterprise extension (RFC 7643 §4.3, §6).
func (c *Client) requireEnterprise(ctx context.Context) error {
	rt, err := c.resourceType(ctx, "User")
	if err != nil {
		return err
	}
	for _, ext := range list(rt, "schemaExtensions") {
		if strings.EqualFold(str(ext, "schema"), urnEnterprise) {
			return nil
		}
	}
	return fmt.Errorf("%w: the User resource type lists no %s extension", ErrNotAdvertised, urnEnterprise)
}

// schemaAttribute returns the definition of the top-level attribute name
// in schema urn, or nil.
func (c *Client) schemaAttribute(ctx context.Context, urn, name string) (obj, error) {
	s, err := c.schema(ctx, urn)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(list(s, "attributes"), func(a any) bool { return strings.EqualFold(str(a, "name"), name) })
	if i < 0 {
		return nil, nil
	}
	a, _ := list(s, "attributes")[i].(obj)
	return a, nil
}
