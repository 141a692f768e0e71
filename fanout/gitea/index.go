package gitea

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	sdk "code.gitea.io/sdk/gitea"
)

// Tuning of the login-name index (see "Finding accounts by subject" in
// the package documentation).
const (
	// trustWindow is how long after a listing began a user it did not
	// show may be created without waiting for another listing.
	trustWindow = 500 * time.Millisecond
	// roundGap is the least time between the starts of two rounds, so
	// that the users of a burst share listings: at most 1/roundGap a
	// second, however many users are provisioned.
	roundGap = 150 * time.Millisecond
	// refillMin is the least time between two full listings; a large
	// Gitea waits longer, refillCost times the last one's duration, so
	// that full listings take a small share of its time.
	refillMin  = time.Minute
	refillCost = 30
	// idleReset is how long without a user the index does not know ends
	// a burst: the count of such users starts again from zero.
	idleReset = time.Minute
	// fillAttempts bounds how often a full listing is started again
	// because an account was deleted while it read: a deletion shifts
	// the pages, so that a row could be skipped.
	fillAttempts = 3
)

// entry is an account the index holds for a login name.
type entry struct {
	id       int64
	username string
}

// known is what the index keeps of an account.
type known struct {
	login, username string
}

// index holds the login name of every account bound to AuthSourceID, so
// that an account is looked for by subject without a search per user:
// the users provisioned at the same time share listings instead. A full
// listing fills it; rounds, each one short listing of the accounts newer
// than any seen (by id, newest first), keep it current; Gitea's count and
// periodic full listings repair what rounds cannot see.
type index struct {
	mu      sync.Mutex
	byLogin map[string][]int64 // login name -> account ids (two: a conflict)
	accts   map[int64]known    // every account of the source the index knows
	ready   bool               // a full listing completed
	misses  int                // users looked for while not ready, this burst
	missAt  time.Time          // when the last of them was
	pages   int                // pages a full listing took, or would take
	served  int                // users the index answered since it was filled
	top     int64              // the highest account id a listing showed
	created int                // accounts created since the last round began, to size its page
	checked bool               // Gitea's version was checked
	off     bool               // Gitea cannot list accounts by id: search per user

	next     *round    // the round a caller asking now gets
	busy     bool      // a goroutine runs rounds
	roundAt  time.Time // when the last round began
	listedAt time.Time // when the newest successful listing began

	refilling bool          // a full listing runs in the background
	filledAt  time.Time     // when the last full listing began
	fillTook  time.Duration // and how long it took
}

// errNotByID says that Gitea did not list accounts in the order of their
// ids: it ignores the sort parameter, as before v1.26.
var errNotByID = errors.New("gitea does not list accounts by id")

// minVersion is the first Gitea release whose admin user search takes
// sort=id (go-gitea/gitea pull request 36112; routers/api/v1/admin/user.go
// SearchUsers and models/user/search.go AdminUserOrderByMap in v1.26.0).
var minVersion = [2]int{1, 26}

// round is one listing that callers wait for.
type round struct {
	done chan struct{}
	err  error
}

func (x *index) lookupLocked(login string) []entry {
	var es []entry
	for _, id := range x.byLogin[login] {
		es = append(es, entry{id: id, username: x.accts[id].username})
	}
	return es
}

// putLocked records an account bound to the source. It reports whether
// the login name now has more than one account.
func (x *index) putLocked(id int64, k known) (shared bool) {
	if x.byLogin == nil {
		x.byLogin, x.accts = map[string][]int64{}, map[int64]known{}
	}
	if old, ok := x.accts[id]; ok {
		if old == k {
			return false
		}
		x.dropLocked(id)
	}
	x.accts[id] = k
	if k.login == "" {
		return false // found by username or email instead
	}
	x.byLogin[k.login] = append(x.byLogin[k.login], id)
	return len(x.byLogin[k.login]) > 1
}

func (x *index) dropLocked(id int64) {
	k, ok := x.accts[id]
	if !ok {
		return
	}
	delete(x.accts, id)
	ids := x.byLogin[k.login]
	for i, other := range ids {
		if other == id {
			ids = append(ids[:i:i], ids[i+1:]...)
			break
		}
	}
	if len(ids) == 0 {
		delete(x.byLogin, k.login)
	} else {
		x.byLogin[k.login] = ids
	}
}

// put records an account a listing showed, and reports a login name
// shared by two accounts, which a race with a first login can cause.
func (c *Connector) put(ctx context.Context, acct *sdk.User) {
	x := &c.index
	x.mu.Lock()
	shared := x.putLocked(acct.ID, known{login: acct.LoginName, username: acct.UserName})
	var others []entry
	if shared {
		others = x.lookupLocked(acct.LoginName)
	}
	x.mu.Unlock()
	if shared {
		names := make([]string, len(others))
		for i, e := range others {
			names[i] = e.username
		}
		c.log.ErrorContext(ctx, "accounts linked to the same subject; keep one", "accounts", names)
	}
}

// remember records an account the connector created, found or relinked.
func (c *Connector) remember(acct *sdk.User, created bool) {
	x := &c.index
	x.mu.Lock()
	defer x.mu.Unlock()
	if created {
		x.created++
	}
	if acct.SourceID == c.cfg.AuthSourceID {
		x.putLocked(acct.ID, known{login: acct.LoginName, username: acct.UserName})
	} else {
		x.dropLocked(acct.ID)
	}
}

// forget drops an account the index holds wrongly (deleted, or relinked
// since a listing showed it).
func (c *Connector) forget(id int64) {
	c.index.mu.Lock()
	c.index.dropLocked(id)
	c.index.mu.Unlock()
}

// indexedBySubject returns the accounts of the source whose login name is
// subject, as the index has them: they must be read again before use.
// When it has none, that answer is used only if a listing that began at
// most trustWindow ago completed; otherwise the call waits for a round
// that begins after it. ok is false when the index cannot answer: it is
// not filled (yet, or any more), or Gitea cannot keep one (it is older
// than v1.26). The caller must search then.
func (c *Connector) indexedBySubject(ctx context.Context, subject string) (es []entry, ok bool, err error) {
	x := &c.index
	x.mu.Lock()
	if x.off {
		x.mu.Unlock()
		return nil, false, nil
	}
	if es := x.lookupLocked(subject); len(es) > 0 {
		x.mu.Unlock()
		return es, true, nil
	}
	if !x.ready {
		// Search for this user; once this burst has searched for as
		// many users as a full listing takes pages, list them all in
		// the background, and use the index when that is done.
		if time.Since(x.missAt) > idleReset {
			x.misses = 0
		}
		x.misses++
		x.missAt = time.Now()
		if !x.busy && x.misses >= max(x.pages, 1) {
			x.requestLocked(ctx, c)
		}
		x.mu.Unlock()
		return nil, false, nil
	}
	x.served++
	if age := time.Since(x.listedAt); x.ready && age <= trustWindow {
		// While other users are being provisioned, ask for the next
		// round before this one is too old, so that none of them waits
		// for it. A lone call makes no request in the background.
		if age > trustWindow/2 && c.ensuring.Load() > 1 {
			x.requestLocked(ctx, c)
		}
		x.mu.Unlock()
		return nil, true, nil
	}
	r := x.requestLocked(ctx, c)
	x.mu.Unlock()
	select {
	case <-r.done:
		if r.err != nil {
			return nil, false, r.err
		}
	case <-ctx.Done():
		return nil, false, fmt.Errorf("gitea: find user by subject: %w", ctx.Err())
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	// The round may have dropped the index (see runRounds): search then.
	return x.lookupLocked(subject), x.ready && !x.off, nil
}

// requestLocked returns the round that begins next, and starts the
// goroutine that runs rounds if none runs.
func (x *index) requestLocked(ctx context.Context, c *Connector) *round {
	if x.next == nil {
		x.next = &round{done: make(chan struct{})}
	}
	if !x.busy {
		x.busy = true
		// Rounds outlive the caller that asked first (others wait for
		// them too); each request is still bounded by Timeout.
		go c.runRounds(context.WithoutCancel(ctx))
	}
	return x.next
}

// runRounds runs rounds while callers ask for one, then returns.
func (c *Connector) runRounds(ctx context.Context) {
	x := &c.index
	for {
		x.mu.Lock()
		if x.next == nil {
			x.busy = false
			x.mu.Unlock()
			return
		}
		wait := roundGap - time.Since(x.roundAt)
		x.mu.Unlock()
		if wait > 0 {
			time.Sleep(wait) // more callers gather for this round
		}

		x.mu.Lock()
		r := x.next
		x.next = nil
		start := time.Now()
		x.roundAt = start
		ready := x.ready
		refill := ready && time.Since(x.filledAt) >= max(refillMin, refillCost*x.fillTook)
		if refill && x.served < x.pages {
			// Since the last full listing, the index answered for
			// fewer users than another would take pages: searching for
			// each costs Gitea less. Drop it until the next burst.
			x.dropAllLocked()
			x.mu.Unlock()
			close(r.done) // its callers search
			continue
		}
		misses := x.misses
		// A page large enough for the accounts created since the last
		// round, so that one page usually reaches the known ones.
		limit := min(max(2*x.created+5, 10), pageSize)
		x.created = 0
		x.mu.Unlock()

		if !ready {
			r.err = c.start(ctx, max(misses, 1))
		} else {
			var unknown bool
			unknown, r.err = c.listNew(ctx, limit)
			if r.err == nil && unknown {
				// Gitea counts more accounts in the source than the
				// index holds: one was linked by hand, or a listing
				// skipped it. Read them all before answering.
				c.log.InfoContext(ctx, "gitea counts accounts of the auth source the index lacks; listing them all")
				r.err = c.fill(ctx, 0)
			}
		}
		if errors.Is(r.err, errNotByID) {
			c.log.WarnContext(ctx, "gitea does not list accounts by id; searching for each user instead")
			x.mu.Lock()
			x.off = true
			x.mu.Unlock()
			r.err = nil
		}
		if r.err == nil {
			x.mu.Lock()
			if start.After(x.listedAt) {
				x.listedAt = start
			}
			x.mu.Unlock()
			if refill {
				c.refill(ctx)
			}
		}
		close(r.done)
	}
}

// dropAllLocked empties the index: users are searched for again, one by
// one, until a burst justifies another full listing.
func (x *index) dropAllLocked() {
	x.byLogin, x.accts = nil, nil
	x.ready, x.misses, x.served = false, 0, 0
}

// start checks, once, that Gitea lists accounts by id, then makes a full
// listing if it takes at most budget pages.
func (c *Connector) start(ctx context.Context, budget int) error {
	x := &c.index
	x.mu.Lock()
	checked := x.checked
	x.mu.Unlock()
	if !checked {
		var v string
		err := c.call(ctx, "get gitea's version", func(api *sdk.Client) (resp *sdk.Response, err error) {
			v, resp, err = api.ServerVersion()
			return resp, err
		})
		if err != nil {
			return err
		}
		if !atLeast(v, minVersion) {
			return fmt.Errorf("gitea %s: %w", v, errNotByID)
		}
		x.mu.Lock()
		x.checked = true
		x.mu.Unlock()
	}
	return c.fill(ctx, budget)
}

// atLeast reports whether version v ("1.26.0", "v1.26.1+dev-5-g...")
// is at least major.minor. A fork that names the Gitea release it
// follows ("11.0.0+gitea-1.22.0") is judged by that release.
func atLeast(v string, want [2]int) bool {
	if _, after, ok := strings.Cut(v, "+gitea-"); ok {
		v = after
	}
	v = strings.TrimPrefix(v, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return major > want[0] || major == want[0] && minor >= want[1]
}

// listing reads the accounts of the source, newest first, page by page,
// handing each to each until it reports stop. When first is not nil, it
// is given the total count of the first answer, and the listing stops
// there if it says so. It returns the total count each answer gave, and
// errNotByID when the ids do not fall.
func (c *Connector) listing(ctx context.Context, op string, limit int, first func(total int) (stop bool), each func(*sdk.User) (stop bool)) (totals []int, err error) {
	var last int64
	err = c.eachPage(ctx, op, func(api *sdk.Client, page sdk.ListOptions) (*sdk.Response, bool, error) {
		page.PageSize = limit
		// sort=id: see minVersion.
		users, resp, err := api.AdminListUsers(sdk.AdminListUsersOptions{
			ListOptions: page, SourceID: c.cfg.AuthSourceID, Sort: "id", Order: "desc",
		})
		if err != nil {
			return resp, false, err
		}
		if n, err := strconv.Atoi(resp.Header.Get("X-Total-Count")); err == nil {
			totals = append(totals, n)
			if len(totals) == 1 && first != nil && first(n) {
				return resp, true, nil
			}
		}
		for i, u := range users {
			switch {
			case i > 0 && u.ID >= users[i-1].ID:
				return resp, true, errNotByID // Gitea ignored the sort
			case last != 0 && u.ID >= last:
				// Accounts created since the previous page pushed
				// rows already seen onto this one.
				continue
			}
			last = u.ID
			if u.SourceID == c.cfg.AuthSourceID && each(u) {
				return resp, true, nil
			}
		}
		return resp, false, nil
	})
	return totals, err
}

// fill lists every account of the source and makes the index exactly
// that, keeping what it learnt meanwhile of accounts newer than the
// listing's first page. With budget > 0, a listing that would take more
// pages than budget stops after its first and leaves the index as it was.
func (c *Connector) fill(ctx context.Context, budget int) error {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		var rows []*sdk.User
		var top int64
		pages, over := 0, false
		totals, err := c.listing(ctx, "list accounts of the auth source", pageSize, func(total int) bool {
			pages = max((total+pageSize-1)/pageSize, 1)
			over = budget > 0 && pages > budget
			return over
		}, func(u *sdk.User) bool {
			rows = append(rows, u)
			top = max(top, u.ID)
			return false
		})
		if err != nil {
			return err
		}
		x := &c.index
		if over {
			x.mu.Lock()
			x.pages = pages
			x.mu.Unlock()
			c.log.DebugContext(ctx, "not listing the accounts of the auth source yet", "pages", pages, "users_searched", budget)
			return nil
		}
		if shrank(totals) && attempt < fillAttempts {
			continue
		}
		x.mu.Lock()
		x.pages, x.served = pages, 0
		old := x.accts
		x.byLogin, x.accts = map[string][]int64{}, map[int64]known{}
		for _, u := range rows {
			x.putLocked(u.ID, known{login: u.LoginName, username: u.UserName})
		}
		for id, k := range old {
			if _, ok := x.accts[id]; !ok && id > top {
				x.putLocked(id, k)
			}
		}
		x.top = max(x.top, top)
		x.ready = true
		x.filledAt, x.fillTook = start, time.Since(start)
		if start.After(x.listedAt) {
			x.listedAt = start
		}
		n := len(x.accts)
		var shared []string
		for login, ids := range x.byLogin {
			if len(ids) > 1 {
				shared = append(shared, login)
			}
		}
		x.mu.Unlock()
		c.log.DebugContext(ctx, "listed the accounts of the auth source", "accounts", n, "took", time.Since(start).Round(time.Millisecond).String())
		if len(shared) > 0 {
			c.log.ErrorContext(ctx, "subjects linked to more than one account; keep one of each", "subjects", len(shared))
		}
		return nil
	}
}

// shrank reports whether the total count fell from one page to the next.
func shrank(totals []int) bool {
	for i := 1; i < len(totals); i++ {
		if totals[i] < totals[i-1] {
			return true
		}
	}
	return false
}

// listNew lists the accounts newer than the newest the index knows. It
// reports whether Gitea counts more accounts in the source than the
// index then holds.
func (c *Connector) listNew(ctx context.Context, limit int) (unknown bool, err error) {
	x := &c.index
	x.mu.Lock()
	top := x.top
	x.mu.Unlock()
	newest := top
	totals, err := c.listing(ctx, "list new accounts of the auth source", limit, nil, func(u *sdk.User) bool {
		if u.ID <= top {
			return true
		}
		c.put(ctx, u)
		newest = max(newest, u.ID)
		return false
	})
	if err != nil {
		return false, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.top = max(x.top, newest)
	return len(totals) > 0 && totals[0] > len(x.accts), nil
}

// refill starts a full listing in the background, unless one runs.
func (c *Connector) refill(ctx context.Context) {
	x := &c.index
	x.mu.Lock()
	if !x.ready || x.refilling {
		x.mu.Unlock()
		return
	}
	x.refilling = true
	x.mu.Unlock()
	go func() {
		if err := c.fill(ctx, 0); err != nil {
			c.log.WarnContext(ctx, "listing the accounts of the auth source failed", "err", err)
		}
		x.mu.Lock()
		x.refilling = false
		x.mu.Unlock()
	}()
}
