package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// maxCheckErrors bounds how many problems Check reports.
const maxCheckErrors = 20

// Check verifies the file and the store's own invariants: bbolt's page
// consistency (tx.Check), every index entry agreeing with its record and
// every record with its index entries, memberships agreeing in both
// directions with the displays and counters, the record counters, and
// the queue's two buckets agreeing, the connectors' due index
// agreeing with their statuses, and every binding naming a stored group
// and agreeing with its reverse index. It returns nil or up to 20 problems
// joined. It holds the write lock for the whole walk, which takes time in
// proportion to the file, so it is for tests and maintenance, not for a
// request path.
func (s *Store) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: check: %w", err)
	}
	// bbolt's own check is only safe against concurrent writers when it
	// runs in a writable transaction; nothing is written, and the
	// transaction is rolled back.
	tx, err := s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("bolt: check: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	c := &checker{}
	for err := range tx.Check() {
		c.fail("bbolt: %v", err)
	}
	c.run(newTxn(tx))
	if len(c.errs) == 0 {
		return nil
	}
	return fmt.Errorf("bolt: check: %w", errors.Join(c.errs...))
}

type checker struct {
	errs    []error
	dropped int
}

func (c *checker) fail(format string, args ...any) {
	if len(c.errs) >= maxCheckErrors {
		c.dropped++
		return
	}
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// has reports whether key exists. Bucket.Get cannot tell an empty value
// from a missing key inside a write transaction, so this seeks instead.
func has(b *bbolt.Bucket, key []byte) bool {
	k, _ := b.Cursor().Seek(key)
	return k != nil && bytes.Equal(k, key)
}

// split cuts a compound key at its first NUL.
func split(k []byte) (string, string, bool) {
	a, b, ok := bytes.Cut(k, []byte{0})
	return string(a), string(b), ok
}

func (c *checker) run(b *txn) {
	users := make(map[string]*store.User)
	_ = b.users().ForEach(func(k, v []byte) error {
		u, err := decodeUser(v)
		if err != nil {
			c.fail("user %q: %v", k, err)
			return nil
		}
		if u.ID != string(k) {
			c.fail("user %q: record has id %q", k, u.ID)
		}
		if owner := b.userNames().Get([]byte(strings.ToLower(u.UserName))); string(owner) != u.ID {
			c.fail("user %q: userName %q indexed to %q", k, u.UserName, owner)
		}
		if u.ExternalID != "" && !has(b.externalIDs(), pair(u.ExternalID, u.ID)) {
			c.fail("user %q: externalId not indexed", k)
		}
		for e := range emailKeys(u) {
			if !has(b.emails(), pair(e, u.ID)) {
				c.fail("user %q: email %q not indexed", k, e)
			}
		}
		if u.Meta.Version == 0 {
			c.fail("user %q: version 0", k)
		}
		users[u.ID] = u
		return nil
	})
	if n := getU64(b.meta(), metaUsers); n != uint64(len(users)) {
		c.fail("user counter %d, %d records", n, len(users))
	}
	_ = b.userNames().ForEach(func(k, v []byte) error {
		if u := users[string(v)]; u == nil || strings.ToLower(u.UserName) != string(k) {
			c.fail("userName index %q points to %q, which does not have it", k, v)
		}
		return nil
	})
	_ = b.externalIDs().ForEach(func(k, _ []byte) error {
		ext, id, ok := split(k)
		if u := users[id]; !ok || u == nil || u.ExternalID != ext {
			c.fail("externalId index entry %q does not match a user", k)
		}
		return nil
	})
	_ = b.emails().ForEach(func(k, _ []byte) error {
		e, id, ok := split(k)
		if u := users[id]; !ok || u == nil || !emailKeys(u)[e] {
			c.fail("email index entry %q does not match a user", k)
		}
		return nil
	})

	groups := make(map[string]bool)
	_ = b.groups().ForEach(func(k, v []byte) error {
		g, err := decodeGroup(v)
		if err != nil {
			c.fail("group %q: %v", k, err)
			return nil
		}
		if g.ID != string(k) {
			c.fail("group %q: record has id %q", k, g.ID)
		}
		if owner := b.groupNames().Get([]byte(strings.ToLower(g.DisplayName))); string(owner) != g.ID {
			c.fail("group %q: displayName %q indexed to %q", k, g.DisplayName, owner)
		}
		groups[g.ID] = true
		return nil
	})
	if n := getU64(b.meta(), metaGroups); n != uint64(len(groups)) {
		c.fail("group counter %d, %d records", n, len(groups))
	}
	_ = b.groupNames().ForEach(func(k, v []byte) error {
		raw := b.groups().Get(v)
		if raw == nil {
			c.fail("displayName index %q points to missing group %q", k, v)
			return nil
		}
		if g, err := decodeGroup(raw); err == nil && strings.ToLower(g.DisplayName) != string(k) {
			c.fail("displayName index %q points to group %q named %q", k, v, g.DisplayName)
		}
		return nil
	})

	counts := make(map[string]uint64)
	_ = b.members().ForEach(func(k, v []byte) error {
		g, uid, ok := split(k)
		if !ok || !groups[g] {
			c.fail("member entry %q of missing group", k)
			return nil
		}
		counts[g]++
		u := users[uid]
		if u == nil {
			c.fail("member entry %q of missing user", k)
			return nil
		}
		if !has(b.memberOf(), pair(uid, g)) {
			c.fail("member entry %q has no memberOf entry", k)
		}
		if string(v) != display(u) {
			c.fail("member entry %q shows %q, user shows %q", k, v, display(u))
		}
		return nil
	})
	_ = b.memberOf().ForEach(func(k, _ []byte) error {
		uid, g, ok := split(k)
		if !ok || !has(b.members(), pair(g, uid)) {
			c.fail("memberOf entry %q has no member entry", k)
		}
		return nil
	})
	_ = b.memberCounts().ForEach(func(k, v []byte) error {
		if !groups[string(k)] {
			c.fail("member count of missing group %q", k)
		}
		if memberCount(v) != counts[string(k)] {
			c.fail("group %q: member count %d, %d entries", k, memberCount(v), counts[string(k)])
		}
		return nil
	})
	for g, n := range counts {
		if b.memberCounts().Get([]byte(g)) == nil {
			c.fail("group %q: no member count, %d entries", g, n)
		}
	}

	_ = b.queue().ForEach(func(k, v []byte) error {
		if _, ok := store.ParseKey(string(k)); !ok || len(v) != 16 {
			c.fail("queue entry %q malformed", k)
			return nil
		}
		if ks := b.queueOrder().Get(v[:8]); string(ks) != string(k) {
			c.fail("queue entry %q: order entry %d holds %q", k, binary.BigEndian.Uint64(v[:8]), ks)
		}
		return nil
	})
	_ = b.queueOrder().ForEach(func(k, v []byte) error {
		if qv := b.queue().Get(v); len(qv) != 16 || !bytes.Equal(qv[:8], k) {
			c.fail("queue order entry %x for %q has no matching queue entry", k, v)
		}
		return nil
	})

	var last uint64
	_ = b.events().ForEach(func(k, v []byte) error {
		var e store.Event
		if len(k) != 8 {
			c.fail("event key %x malformed", k)
			return nil
		}
		if err := json.Unmarshal(v, &e); err != nil || e.Seq != binary.BigEndian.Uint64(k) || e.Seq <= last {
			c.fail("event %x malformed or out of order", k)
		}
		last = e.Seq
		return nil
	})
	// Every due entry names a due status at that time, and every due
	// status has its entry.
	dueCount := 0
	_ = b.status().ForEach(func(k, v []byte) error {
		key, conn, ok := split(k)
		if !ok {
			c.fail("status key %q malformed", k)
			return nil
		}
		pk, ok := store.ParseKey(key)
		var st store.Status
		if !ok || json.Unmarshal(v, &st) != nil {
			c.fail("status %q malformed", k)
			return nil
		}
		if isDue(st) {
			dueCount++
			if !has(b.due(), dueKey(conn, st.NextAttempt, pk)) {
				c.fail("status %s %s is %s but not in the due index", key, conn, st.State)
			}
		}
		return nil
	})
	if n := b.due().Stats().KeyN; n != dueCount {
		c.fail("due index has %d entries, %d statuses are due", n, dueCount)
	}
	c.bindings(b)
	if c.dropped > 0 {
		c.errs = append(c.errs, fmt.Errorf("and %d more problems", c.dropped))
	}
}

// bindings checks every binding against its group and the reverse index.
func (c *checker) bindings(b *txn) {
	_ = b.bindings().ForEach(func(k, v []byte) error {
		group, formula, ok := split(k)
		var bd store.Binding
		switch {
		case !ok:
			c.fail("binding key %q has no separator", k)
		case json.Unmarshal(v, &bd) != nil:
			c.fail("binding %s %s does not decode", group, formula)
		case bd.Group != group || bd.Formula != formula:
			c.fail("binding %s %s holds %s %s", group, formula, bd.Group, bd.Formula)
		case !has(b.groups(), []byte(group)):
			c.fail("binding %s %s names a missing group", group, formula)
		case !has(b.bindingsByFormula(), pair(formula, group)):
			c.fail("binding %s %s is missing from bindings.formula", group, formula)
		}
		return nil
	})
	if n, m := b.bindings().Stats().KeyN, b.bindingsByFormula().Stats().KeyN; n != m {
		c.fail("%d bindings but %d entries in bindings.formula", n, m)
	}
}
