package fanout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Store is what the reconciler needs of the store.
type Store = store.Store

// Options tunes the reconciler. Zero values take the defaults.
type Options struct {
	// Workers is the number of concurrent reconciles per connector.
	// Default 4.
	Workers int
	// Rate caps downstream reconciles per second per connector (0: no
	// cap). A reconcile may make several calls.
	Rate float64
	// MinBackoff and MaxBackoff bound the exponential backoff after a
	// failure (with full jitter). Defaults 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// ResyncInterval is how often every user and group is checked again,
	// so drift made by hand downstream is repaired. Default 1h; negative
	// disables it.
	ResyncInterval time.Duration
	// Poll is how often the queues are read when nothing wakes the
	// reconciler. Default 250ms.
	Poll time.Duration
	// Logger receives one line per failed attempt; nil discards.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.ResyncInterval == 0 {
		o.ResyncInterval = time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Reconciler drives every connector from the store's queue. One slow or
// failing connector never delays another: each has its own due queue,
// workers and backoff.
type Reconciler struct {
	st    Store
	conns []Connector
	names []string
	opts  Options
	log   *slog.Logger
	wake  chan struct{}

	mu      sync.Mutex
	stats   map[string]*Counters
	running map[string]map[store.Key]bool
	paused  map[string]time.Time     // connector -> no attempts before
	fed     map[string]chan struct{} // connector -> woken after a dispatch
	streak  map[string]int           // connector -> consecutive failures

	formulas formulaCache
}

// Counters are a connector's running totals, for metrics and status.
type Counters struct {
	OK, Failed, Parked, Skipped int64
}

// New builds a reconciler for conns over st.
func New(st Store, conns []Connector, opts Options) *Reconciler {
	opts.defaults()
	r := &Reconciler{st: st, conns: conns, opts: opts, log: opts.Logger, wake: make(chan struct{}, 1),
		stats: map[string]*Counters{}, running: map[string]map[store.Key]bool{},
		paused: map[string]time.Time{}, streak: map[string]int{}, fed: map[string]chan struct{}{}}
	for _, c := range conns {
		r.names = append(r.names, c.Name())
		r.stats[c.Name()] = &Counters{}
		r.running[c.Name()] = map[store.Key]bool{}
		r.fed[c.Name()] = make(chan struct{}, 1)
	}
	return r
}

// Kick wakes the reconciler now (after a write) instead of at the next
// poll. It never blocks.
func (r *Reconciler) Kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Stats returns a copy of the counters of connector name.
func (r *Reconciler) Stats(name string) Counters {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.stats[name]; c != nil {
		return *c
	}
	return Counters{}
}

// Run dispatches and reconciles until ctx is done. In-flight reconciles
// finish (each bounded by its connector's timeouts) before Run returns.
func (r *Reconciler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, c := range r.conns {
		jobs := make(chan store.Status)
		for range r.opts.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for st := range jobs {
					r.attempt(ctx, c, st)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(jobs)
			r.feed(ctx, c, jobs)
		}()
	}
	if r.opts.ResyncInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(r.opts.ResyncInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if _, err := r.Resync(ctx); err != nil && ctx.Err() == nil {
						r.log.Error("resync failed", "err", err)
					}
				}
			}
		}()
	}
	t := time.NewTicker(r.opts.Poll)
	defer t.Stop()
	for {
		if err := r.dispatch(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("dispatch failed", "err", err)
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
		case <-r.wake:
		}
	}
}

// dispatch moves the main queue into the connectors' due queues.
func (r *Reconciler) dispatch(ctx context.Context) error {
	for {
		items, err := r.st.Pending(ctx, 512)
		if err != nil || len(items) == 0 {
			return err
		}
		if err := r.st.Dispatch(ctx, items, r.names); err != nil {
			return err
		}
		for _, ch := range r.fed {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
		if len(items) < 512 {
			return nil
		}
	}
}

// feed hands due keys of one connector to its workers, honouring the
// connector's pause (backoff after failures) and rate.
func (r *Reconciler) feed(ctx context.Context, c Connector, jobs chan<- store.Status) {
	name := c.Name()
	var interval time.Duration
	if r.opts.Rate > 0 {
		interval = time.Duration(float64(time.Second) / r.opts.Rate)
	}
	var last time.Time
	t := time.NewTicker(r.opts.Poll)
	defer t.Stop()
	limit := r.opts.Workers * 8
	for {
		r.mu.Lock()
		until := r.paused[name]
		r.mu.Unlock()
		full := false
		if now := time.Now(); now.After(until) {
			due, err := r.st.Due(ctx, name, now, limit)
			full = len(due) == limit
			if err != nil && ctx.Err() == nil {
				r.log.Error("read due queue", "connector", name, "err", err)
			}
			for _, st := range due {
				r.mu.Lock()
				if time.Now().Before(r.paused[name]) {
					// An attempt of this batch failed: the connector
					// waits, and so does the rest of the batch.
					r.mu.Unlock()
					full = false
					break
				}
				busy := r.running[name][st.Key]
				if !busy {
					r.running[name][st.Key] = true
				}
				r.mu.Unlock()
				if busy {
					continue
				}
				if interval > 0 {
					if wait := time.Until(last.Add(interval)); wait > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(wait):
						}
					}
					last = time.Now()
				}
				select {
				case jobs <- st:
				case <-ctx.Done():
					return
				}
			}
		}
		if full {
			// More are due: read on as soon as the workers took these,
			// instead of idling until the next tick.
			if ctx.Err() != nil {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.fed[name]:
		}
	}
}

// attempt reconciles one key with one connector and settles the outcome.
func (r *Reconciler) attempt(ctx context.Context, c Connector, st store.Status) {
	name := c.Name()
	defer func() {
		r.mu.Lock()
		delete(r.running[name], st.Key)
		r.mu.Unlock()
	}()
	now := time.Now().UTC()
	out, err := r.reconcile(ctx, c, st)
	if ctx.Err() != nil {
		return // shutting down: the key stays due
	}
	res, skipped := out.Result, out.skipped
	if out.applied != nil {
		st.Applied = out.applied
	}
	st.LastAttempt = now
	switch {
	case err == nil:
		st.State, st.Attempts, st.LastError = store.StateOK, 0, ""
		st.LastSuccess, st.AppliedHash = now, out.hash
		if !skipped {
			if out.unapplied != "" && out.unapplied != st.Unapplied {
				res.Note = strings.TrimSpace(res.Note + " not applied: " + out.unapplied)
			}
			st.Unapplied = out.unapplied
		}
		linked := res.RemoteID != "" && res.RemoteID != st.RemoteID
		if res.RemoteID != "" {
			st.RemoteID = res.RemoteID
		}
		reactivated := st.Inactive && !out.inactive
		if st.Key.Kind == store.KindUser && !skipped {
			st.Inactive = out.inactive
		}
		if (linked || reactivated) && st.Key.Kind == store.KindUser {
			// The user's groups may have run before it had a link, or
			// while it was deactivated (Mattermost adds no deactivated
			// account to a team or channel), and left it out: run them
			// again now.
			defer r.requeueGroupsOf(context.WithoutCancel(ctx), st.Key.ID)
		}
		r.count(name, func(c *Counters) {
			if skipped {
				c.Skipped++
			} else {
				c.OK++
			}
		})
		r.mu.Lock()
		r.streak[name] = 0
		r.paused[name] = time.Time{}
		r.mu.Unlock()
	case IsTerminal(err):
		st.State, st.LastError = store.StateParked, err.Error()
		st.Attempts++
		r.count(name, func(c *Counters) { c.Parked++ })
		r.log.Warn("reconcile parked", "connector", name, "key", st.Key.String(), "err", err)
	default:
		st.State, st.LastError = store.StateFailed, err.Error()
		st.Attempts++
		delay := r.backoff(st.Attempts)
		var ra *RetryAfterError
		if errors.As(err, &ra) && ra.After > delay {
			delay = ra.After
		}
		st.NextAttempt = now.Add(delay)
		// The whole connector waits too: a service that is down fails
		// every key, and hammering it with each of them helps nobody.
		r.mu.Lock()
		r.streak[name]++
		pause := r.backoff(r.streak[name])
		if delay > pause {
			pause = delay
		}
		r.paused[name] = time.Now().Add(pause)
		r.mu.Unlock()
		r.count(name, func(c *Counters) { c.Failed++ })
		r.log.Warn("reconcile failed", "connector", name, "key", st.Key.String(), "attempt", st.Attempts, "retry_in", delay.Round(time.Millisecond).String(), "err", err)
	}
	if res.Note != "" {
		st.Note = res.Note
	}
	if err := r.st.Settle(context.WithoutCancel(ctx), st); err != nil {
		r.log.Error("settle failed", "connector", name, "key", st.Key.String(), "err", err)
	}
}

// requeueGroupsOf queues the groups of a user (after its link changed).
func (r *Reconciler) requeueGroupsOf(ctx context.Context, userID string) {
	gids, err := r.st.UserGroups(ctx, userID)
	if err != nil || len(gids) == 0 {
		return
	}
	keys := make([]store.Key, len(gids))
	for i, g := range gids {
		keys[i] = store.Key{Kind: store.KindGroup, ID: g}
	}
	if err := r.st.Enqueue(ctx, keys...); err != nil {
		r.log.Error("requeue groups", "user", userID, "err", err)
		return
	}
	r.Kick()
}

func (r *Reconciler) count(name string, fn func(*Counters)) {
	r.mu.Lock()
	fn(r.stats[name])
	r.mu.Unlock()
}

// backoff is exponential from MinBackoff, capped at MaxBackoff, with full
// jitter in its upper half.
func (r *Reconciler) backoff(attempts int) time.Duration {
	d := r.opts.MinBackoff
	for i := 1; i < attempts && d < r.opts.MaxBackoff; i++ {
		d *= 2
	}
	if d > r.opts.MaxBackoff {
		d = r.opts.MaxBackoff
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// outcome is what one reconcile did.
type outcome struct {
	Result
	// hash is the hash of the desired state applied (users only).
	hash string
	// applied is the connector's applied resources to store, when it
	// reported them (nil keeps the stored ones).
	applied []byte
	// skipped is true when the desired state was already applied.
	skipped bool
	// unapplied is what the connector reported it could not apply
	// (UnappliedError), while the rest converged.
	unapplied string
	// inactive is true for a user who is not active (and not deleted).
	inactive bool
}

// reconcile reads the desired state of st.Key and asks c to converge.
func (r *Reconciler) reconcile(ctx context.Context, c Connector, st store.Status) (outcome, error) {
	switch st.Key.Kind {
	case store.KindUser:
		u, err := r.desiredUser(ctx, st.Key.ID)
		if err != nil {
			return outcome{}, err
		}
		var problems []string
		if !u.Deleted {
			if u.Resources, problems, err = r.resourcesOf(ctx, u, assume{}); err != nil {
				return outcome{}, err
			}
		}
		out := outcome{hash: UserHash(u), inactive: !u.Active && !u.Deleted}
		if st.AppliedHash == out.hash && st.LastSuccess.After(time.Time{}) && st.State != store.StateParked && st.Attempts == 0 {
			out.RemoteID, out.skipped = st.RemoteID, true
			return out, nil
		}
		if u.Deleted && st.RemoteID == "" {
			return out, nil // never provisioned: nothing to undo
		}
		u.RemoteID = st.RemoteID
		rc, isRC := c.(ResourceConnector)
		resources := func() error {
			applied, err := rc.EnsureResources(ctx, u, u.Resources, decodeApplied(st.Applied))
			if b, merr := json.Marshal(applied); merr == nil {
				out.applied = b
			}
			var ua *UnappliedError
			if errors.As(err, &ua) {
				out.unapplied, err = ua.Msg, nil
			}
			return err
		}
		// A deleted user's resources go first (by their onRemove), while
		// the account they belong to still exists: a service may refuse
		// to delete an account that still owns repositories.
		if u.Deleted && isRC {
			if err := resources(); err != nil {
				return out, err
			}
		}
		if out.Result, err = c.EnsureUser(ctx, u); err != nil {
			return out, err
		}
		if !isRC || u.Deleted {
			return out, nil
		}
		if out.RemoteID != "" {
			u.RemoteID = out.RemoteID
		}
		if err := resources(); err != nil {
			return out, err
		}
		if len(problems) > 0 {
			return out, Terminal(errors.New(strings.Join(problems, "; ")))
		}
		return out, nil
	case store.KindGroup:
		g, err := r.desiredGroup(ctx, c.Name(), st.Key.ID)
		if err != nil {
			return outcome{}, err
		}
		if g.Deleted && st.RemoteID == "" {
			return outcome{}, nil
		}
		// Groups are always observed: their membership is what drifts
		// when someone edits a team by hand.
		g.RemoteID = st.RemoteID
		res, err := c.EnsureGroup(ctx, g)
		return outcome{Result: res}, err
	}
	return outcome{}, Terminal(errors.New("unknown key kind " + string(st.Key.Kind)))
}

// desiredUser builds the connector view of a user; a deleted user is
// Deleted with only its id.
func (r *Reconciler) desiredUser(ctx context.Context, id string) (User, error) {
	su, err := r.st.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return User{ID: id, Deleted: true}, nil
	}
	if err != nil {
		return User{}, err
	}
	return UserFromStore(su), nil
}

// UserFromStore maps a stored SCIM user to the connector view.
func UserFromStore(su *store.User) User {
	u := User{ID: su.ID, UserName: su.UserName, Subject: su.ExternalID, DisplayName: su.DisplayName, Active: su.Active}
	_ = json.Unmarshal(su.Attributes, &u.Attributes)
	if name, ok := u.Attributes["name"].(map[string]any); ok {
		u.GivenName, _ = name["givenName"].(string)
		u.FamilyName, _ = name["familyName"].(string)
	}
	if emails, ok := u.Attributes["emails"].([]any); ok {
		for _, e := range emails {
			m, _ := e.(map[string]any)
			v, _ := m["value"].(string)
			if v == "" {
				continue
			}
			if p, _ := m["primary"].(bool); p || u.Email == "" {
				u.Email = v
			}
		}
	}
	if u.Attributes == nil {
		u.Attributes = map[string]any{}
	}
	u.Attributes["id"] = su.ID
	if su.ExternalID != "" {
		u.Attributes["externalId"] = su.ExternalID
	}
	return u
}

// UserHash is the hash of everything a connector is given about a user:
// when it is unchanged since the last confirmed apply, the reconcile
// makes no downstream call.
func UserHash(u User) string {
	u.RemoteID = ""
	b, _ := json.Marshal(u) // map keys are sorted: the encoding is stable
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (r *Reconciler) desiredGroup(ctx context.Context, connector, id string) (Group, error) {
	sg, err := r.st.GetGroup(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Group{ID: id, Deleted: true}, nil
	}
	if err != nil {
		return Group{}, err
	}
	ms, err := r.st.GroupMembers(ctx, id)
	if err != nil {
		return Group{}, err
	}
	g := Group{ID: sg.ID, DisplayName: sg.DisplayName, Members: make([]Member, 0, len(ms))}
	for _, m := range ms {
		sts, err := r.st.Statuses(ctx, store.Key{Kind: store.KindUser, ID: m.UserID})
		if err != nil {
			return Group{}, err
		}
		mem := Member{UserID: m.UserID}
		for _, s := range sts {
			if s.Connector == connector {
				mem.RemoteID = s.RemoteID
			}
		}
		if u, err := r.st.GetUser(ctx, m.UserID); err == nil {
			mem.UserName = u.UserName
		}
		g.Members = append(g.Members, mem)
	}
	return g, nil
}

// Resync checks every user and group again: a user whose desired state
// hashes the same as the one last applied by every connector costs one
// read and no downstream call; any other user, and every group, is
// queued. It returns the number of keys queued.
func (r *Reconciler) Resync(ctx context.Context) (int, error) {
	applied := map[string]map[string]store.Status{} // connector -> key -> status
	for _, name := range r.names {
		m := map[string]store.Status{}
		if err := r.st.ScanStatuses(ctx, name, func(s store.Status) bool {
			if s.Key.Kind == store.KindUser {
				m[s.Key.ID] = s
			}
			return true
		}); err != nil {
			return 0, err
		}
		applied[name] = m
	}
	// Without any binding no user has resources, and the hash needs no
	// more reads than the user itself.
	bindings, err := r.st.Bindings(ctx, "")
	if err != nil {
		return 0, err
	}
	// The latest version of each formula, read once for the whole pass.
	var latest map[string]string
	if len(bindings) > 0 {
		if latest, err = LatestVersions(ctx, r.st); err != nil {
			return 0, err
		}
	}
	var keys []store.Key
	var resErr error
	err = r.st.ScanUsers(ctx, "", func(su *store.User) bool {
		u := UserFromStore(su)
		if len(bindings) > 0 {
			if u.Resources, _, resErr = r.resourcesOf(ctx, u, assume{latest: latest}); resErr != nil {
				return false
			}
		}
		hash := UserHash(u)
		for _, name := range r.names {
			s, ok := applied[name][su.ID]
			if !ok || s.State != store.StateOK || s.AppliedHash != hash {
				keys = append(keys, store.Key{Kind: store.KindUser, ID: su.ID})
				break
			}
		}
		return ctx.Err() == nil
	})
	if err == nil {
		err = resErr
	}
	if err != nil {
		return 0, err
	}
	if err := r.st.ScanGroups(ctx, "", func(g *store.Group) bool {
		keys = append(keys, store.Key{Kind: store.KindGroup, ID: g.ID})
		return ctx.Err() == nil
	}); err != nil {
		return 0, err
	}
	total := len(keys)
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := r.st.Enqueue(ctx, keys[:n]...); err != nil {
			return 0, err
		}
		keys = keys[n:]
	}
	r.Kick()
	return total, ctx.Err()
}
