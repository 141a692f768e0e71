package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// scanPage is how many records a scan reads per read transaction, so that
// a slow scan callback never holds a transaction open.
const scanPage = 256

// userTx is the store.UserTx handed to UpdateUser callbacks.
type userTx struct{ u *store.User }

func (t userTx) User() *store.User { return t.u }

// display is what a group's member entry shows for u.
func display(u *store.User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.UserName
}

// validID reports whether id can be a key: non-empty and free of the
// separator of compound keys.
func validID(id string) bool {
	return id != "" && !strings.ContainsRune(id, 0)
}

func checkUser(u *store.User) error {
	if !validID(u.ID) {
		return fmt.Errorf("id %q: %w", u.ID, store.ErrInvalid)
	}
	if u.UserName == "" || strings.ContainsRune(u.UserName, 0) {
		return fmt.Errorf("userName %q: %w", u.UserName, store.ErrInvalid)
	}
	if strings.ContainsRune(u.ExternalID, 0) {
		return fmt.Errorf("externalId: %w", store.ErrInvalid)
	}
	for _, e := range u.Emails {
		if strings.ContainsRune(e, 0) {
			return fmt.Errorf("email: %w", store.ErrInvalid)
		}
	}
	return nil
}

// emailKeys is the set of lowered, non-empty emails of u.
func emailKeys(u *store.User) map[string]bool {
	m := make(map[string]bool, len(u.Emails))
	for _, e := range u.Emails {
		if e != "" {
			m[strings.ToLower(e)] = true
		}
	}
	return m
}

func decodeUser(data []byte) (*store.User, error) {
	u := new(store.User)
	if err := json.Unmarshal(data, u); err != nil {
		return nil, fmt.Errorf("decode user: %w", err)
	}
	return u, nil
}

// indexUser moves the index entries of a user from old (nil for a new
// user) to u, touching only the keys that differ. It returns ErrConflict
// when u's userName belongs to another user.
func (b *txn) indexUser(old, u *store.User) error {
	newName := strings.ToLower(u.UserName)
	if old == nil || strings.ToLower(old.UserName) != newName {
		if owner := b.userNames().Get([]byte(newName)); owner != nil && string(owner) != u.ID {
			return fmt.Errorf("userName %q: %w", u.UserName, store.ErrConflict)
		}
		if old != nil {
			if err := b.userNames().Delete([]byte(strings.ToLower(old.UserName))); err != nil {
				return err
			}
		}
		if err := b.userNames().Put([]byte(newName), []byte(u.ID)); err != nil {
			return err
		}
	}
	if old == nil || old.ExternalID != u.ExternalID {
		if old != nil && old.ExternalID != "" {
			if err := b.externalIDs().Delete(pair(old.ExternalID, u.ID)); err != nil {
				return err
			}
		}
		if u.ExternalID != "" {
			if err := b.externalIDs().Put(pair(u.ExternalID, u.ID), nil); err != nil {
				return err
			}
		}
	}
	newEmails := emailKeys(u)
	if old != nil {
		for e := range emailKeys(old) {
			if newEmails[e] {
				delete(newEmails, e) // already indexed
				continue
			}
			if err := b.emails().Delete(pair(e, u.ID)); err != nil {
				return err
			}
		}
	}
	for e := range newEmails {
		if err := b.emails().Put(pair(e, u.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// unindexUser removes every index entry of u.
func (b *txn) unindexUser(u *store.User) error {
	if err := b.userNames().Delete([]byte(strings.ToLower(u.UserName))); err != nil {
		return err
	}
	if u.ExternalID != "" {
		if err := b.externalIDs().Delete(pair(u.ExternalID, u.ID)); err != nil {
			return err
		}
	}
	for e := range emailKeys(u) {
		if err := b.emails().Delete(pair(e, u.ID)); err != nil {
			return err
		}
	}
	return nil
}

// CreateUser stores u, assigning u.ID (when empty) and u.Meta. It returns
// ErrConflict when the userName or the id is taken and ErrInvalid for an
// empty userName or a value containing a NUL byte.
func (s *Store) CreateUser(ctx context.Context, actor store.Actor, u *store.User) error {
	nu := *u
	if nu.ID == "" {
		nu.ID = store.NewID()
	}
	if err := checkUser(&nu); err != nil {
		return fmt.Errorf("bolt: create user %q: %w", nu.UserName, err)
	}
	var meta store.Meta
	err := s.write(ctx, func(b *txn) error {
		var err error
		meta, err = b.createUser(actor, nu)
		return err
	})
	if err != nil {
		return fmt.Errorf("bolt: create user %q: %w", nu.UserName, err)
	}
	u.ID, u.Meta = nu.ID, meta
	return nil
}

// createUser stores a validated user with a fresh Meta.
func (b *txn) createUser(actor store.Actor, nu store.User) (store.Meta, error) {
	if b.users().Get([]byte(nu.ID)) != nil {
		return store.Meta{}, fmt.Errorf("id %q: %w", nu.ID, store.ErrConflict)
	}
	if err := b.indexUser(nil, &nu); err != nil {
		return store.Meta{}, err
	}
	nu.Meta = store.Meta{Version: 1, Created: b.now, Modified: b.now}
	data, err := json.Marshal(&nu)
	if err != nil {
		return store.Meta{}, fmt.Errorf("encode: %w: %w", store.ErrInvalid, err)
	}
	if err := b.users().Put([]byte(nu.ID), data); err != nil {
		return store.Meta{}, err
	}
	if err := addU64(b.meta(), metaUsers, 1); err != nil {
		return store.Meta{}, err
	}
	if err := b.appendEvent(actor, "create", store.KindUser, nu.ID, ""); err != nil {
		return store.Meta{}, err
	}
	if err := b.enqueue(store.Key{Kind: store.KindUser, ID: nu.ID}); err != nil {
		return store.Meta{}, err
	}
	return nu.Meta, nil
}

// GetUser returns the user with the given id, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	var data []byte
	err := s.read(ctx, func(b *txn) error {
		data = bytes.Clone(b.users().Get([]byte(id)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: get user %q: %w", id, err)
	}
	if data == nil {
		return nil, fmt.Errorf("bolt: get user %q: %w", id, store.ErrNotFound)
	}
	u, err := decodeUser(data)
	if err != nil {
		return nil, fmt.Errorf("bolt: get user %q: %w", id, err)
	}
	return u, nil
}

// changedFields names the top-level fields that differ, for event
// details. It names fields, never values.
func changedFields(old, u *store.User) string {
	var f []string
	if old.UserName != u.UserName {
		f = append(f, "userName")
	}
	if old.ExternalID != u.ExternalID {
		f = append(f, "externalId")
	}
	if !slices.Equal(old.Emails, u.Emails) {
		f = append(f, "emails")
	}
	if old.DisplayName != u.DisplayName {
		f = append(f, "displayName")
	}
	if old.Active != u.Active {
		f = append(f, "active")
	}
	if !bytes.Equal(old.Attributes, u.Attributes) {
		f = append(f, "attributes")
	}
	if len(f) == 0 {
		return ""
	}
	return "changed " + strings.Join(f, ",")
}

// UpdateUser runs fn on a fresh copy of the stored user inside one
// transaction; see store.Store. fn must not change the id (ErrInvalid);
// changes it makes to Meta are ignored. When the user's display changes,
// its member entries in every group follow in the same transaction.
func (s *Store) UpdateUser(ctx context.Context, actor store.Actor, id string, ifVersion uint64, fn func(tx store.UserTx) error) (*store.User, error) {
	var result *store.User
	var fnErr error
	err := s.write(ctx, func(b *txn) error {
		fnErr = nil
		var err error
		result, err = b.updateUser(actor, id, ifVersion, watch(fn, &fnErr))
		return err
	})
	if fnErr != nil && err == fnErr {
		return nil, err // the callback's own error, unchanged
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: update user %q: %w", id, err)
	}
	return result, nil
}

func (b *txn) updateUser(actor store.Actor, id string, ifVersion uint64, fn func(store.UserTx) error) (*store.User, error) {
	raw := b.users().Get([]byte(id))
	if raw == nil {
		return nil, store.ErrNotFound
	}
	old, err := decodeUser(raw)
	if err != nil {
		return nil, err
	}
	if ifVersion != 0 && ifVersion != old.Meta.Version {
		return nil, fmt.Errorf("stored version %d, caller has %d: %w", old.Meta.Version, ifVersion, store.ErrVersionMismatch)
	}
	// fn edits its own decoded copy, never old: both must stay intact
	// for the comparison and the re-indexing below.
	u, err := decodeUser(raw)
	if err != nil {
		return nil, err
	}
	if fn != nil {
		if err := fn(userTx{u}); err != nil {
			return nil, err
		}
	}
	if u.ID != id {
		return nil, fmt.Errorf("id changed to %q: %w", u.ID, store.ErrInvalid)
	}
	if err := checkUser(u); err != nil {
		return nil, err
	}
	u.Meta = old.Meta
	same, err := json.Marshal(u)
	if err != nil {
		return nil, fmt.Errorf("encode: %w: %w", store.ErrInvalid, err)
	}
	if bytes.Equal(same, raw) {
		return old, nil
	}
	if err := b.indexUser(old, u); err != nil {
		return nil, err
	}
	u.Meta.Version++
	u.Meta.Modified = b.now
	data, err := json.Marshal(u)
	if err != nil {
		return nil, fmt.Errorf("encode: %w: %w", store.ErrInvalid, err)
	}
	if err := b.users().Put([]byte(id), data); err != nil {
		return nil, err
	}
	if d := display(u); d != display(old) {
		var groups []string
		if err := scanPrefix(b.memberOf(), prefix(id), func(g string, _ []byte) error {
			groups = append(groups, g)
			return nil
		}); err != nil {
			return nil, err
		}
		for _, g := range groups {
			if err := b.members().Put(pair(g, id), []byte(d)); err != nil {
				return nil, err
			}
		}
	}
	if err := b.appendEvent(actor, "update", store.KindUser, id, changedFields(old, u)); err != nil {
		return nil, err
	}
	if err := b.enqueue(store.Key{Kind: store.KindUser, ID: id}); err != nil {
		return nil, err
	}
	return u, nil
}

// DeleteUser removes the user, its index entries and its memberships in
// both directions, bumps the version of every group it was in, and
// enqueues the user and those groups.
func (s *Store) DeleteUser(ctx context.Context, actor store.Actor, id string, ifVersion uint64) error {
	err := s.write(ctx, func(b *txn) error {
		raw := b.users().Get([]byte(id))
		if raw == nil {
			return store.ErrNotFound
		}
		u, err := decodeUser(raw)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != u.Meta.Version {
			return fmt.Errorf("stored version %d, caller has %d: %w", u.Meta.Version, ifVersion, store.ErrVersionMismatch)
		}
		var groups []string
		if err := scanPrefix(b.memberOf(), prefix(id), func(g string, _ []byte) error {
			groups = append(groups, g)
			return nil
		}); err != nil {
			return err
		}
		keys := []store.Key{{Kind: store.KindUser, ID: id}}
		for _, g := range groups {
			if err := b.memberOf().Delete(pair(id, g)); err != nil {
				return err
			}
			if err := b.members().Delete(pair(g, id)); err != nil {
				return err
			}
			if err := addU64(b.memberCounts(), []byte(g), -1); err != nil {
				return err
			}
			if err := b.touchGroup(g); err != nil {
				return err
			}
			keys = append(keys, store.Key{Kind: store.KindGroup, ID: g})
		}
		if err := b.unindexUser(u); err != nil {
			return err
		}
		if err := b.users().Delete([]byte(id)); err != nil {
			return err
		}
		if err := addU64(b.meta(), metaUsers, -1); err != nil {
			return err
		}
		detail := ""
		if len(groups) > 0 {
			detail = fmt.Sprintf("groups -%d", len(groups))
		}
		if err := b.appendEvent(actor, "delete", store.KindUser, id, detail); err != nil {
			return err
		}
		return b.enqueue(keys...)
	})
	if err != nil {
		return fmt.Errorf("bolt: delete user %q: %w", id, err)
	}
	return nil
}

// FindUsers returns the users matching q through its index, in id order.
// Exactly one field of q must be set (ErrInvalid otherwise).
func (s *Store) FindUsers(ctx context.Context, q store.UserQuery) ([]*store.User, error) {
	n := 0
	for _, f := range []*string{q.UserName, q.ExternalID, q.Email} {
		if f != nil {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("bolt: find users: %d query fields set: %w", n, store.ErrInvalid)
	}
	var raws [][]byte
	err := s.read(ctx, func(b *txn) error {
		var ids []string
		collect := func(id string, _ []byte) error {
			ids = append(ids, id)
			return nil
		}
		switch {
		case q.UserName != nil:
			if id := b.userNames().Get([]byte(strings.ToLower(*q.UserName))); id != nil {
				ids = append(ids, string(id))
			}
		case q.ExternalID != nil:
			if *q.ExternalID == "" {
				return nil
			}
			if err := scanPrefix(b.externalIDs(), prefix(*q.ExternalID), collect); err != nil {
				return err
			}
		case q.Email != nil:
			if *q.Email == "" {
				return nil
			}
			if err := scanPrefix(b.emails(), prefix(strings.ToLower(*q.Email)), collect); err != nil {
				return err
			}
		}
		for _, id := range ids {
			v := b.users().Get([]byte(id))
			if v == nil {
				return fmt.Errorf("index entry for missing user %q", id)
			}
			raws = append(raws, bytes.Clone(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: find users: %w", err)
	}
	out := make([]*store.User, 0, len(raws))
	for _, v := range raws {
		u, err := decodeUser(v)
		if err != nil {
			return nil, fmt.Errorf("bolt: find users: %w", err)
		}
		out = append(out, u)
	}
	return out, nil
}

// ScanUsers calls fn for every user in id order, starting after `after`.
// It reads a page of users per read transaction and calls fn outside any
// transaction, so fn may be slow; it sees writes made between pages.
func (s *Store) ScanUsers(ctx context.Context, after string, fn func(*store.User) bool) error {
	for {
		page, err := s.readPage(ctx, iUsers, after)
		if err != nil {
			return fmt.Errorf("bolt: scan users: %w", err)
		}
		for _, v := range page {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("bolt: scan users: %w", err)
			}
			u, err := decodeUser(v)
			if err != nil {
				return fmt.Errorf("bolt: scan users: %w", err)
			}
			if !fn(u) {
				return nil
			}
			after = u.ID
		}
		if len(page) < scanPage {
			return nil
		}
	}
}

// readPage copies out up to scanPage values of bucket with keys after
// `after`.
func (s *Store) readPage(ctx context.Context, bucket int, after string) ([][]byte, error) {
	var page [][]byte
	err := s.read(ctx, func(b *txn) error {
		c := b.bucket(bucket).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(page) < scanPage; k, v = c.Next() {
			page = append(page, bytes.Clone(v))
		}
		return nil
	})
	return page, err
}

// CountUsers returns the number of users from a counter, in O(1).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n uint64
	err := s.read(ctx, func(b *txn) error {
		n = getU64(b.meta(), metaUsers)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: count users: %w", err)
	}
	return int(n), nil
}

// UserGroups lists the ids of the groups userID is a member of, in id
// order. It returns ErrNotFound for an unknown user.
func (s *Store) UserGroups(ctx context.Context, userID string) ([]string, error) {
	var out []string
	err := s.read(ctx, func(b *txn) error {
		if b.users().Get([]byte(userID)) == nil {
			return store.ErrNotFound
		}
		return scanPrefix(b.memberOf(), prefix(userID), func(g string, _ []byte) error {
			out = append(out, g)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: user groups %q: %w", userID, err)
	}
	return out, nil
}
