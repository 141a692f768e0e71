package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// groupTx is the store.GroupTx handed to CreateGroup and UpdateGroup
// callbacks. Member changes go straight into the write transaction, so
// HasMember and Members see them, and they vanish with it when the
// callback (or anything after it) fails.
type groupTx struct {
	b     *txn
	g     *store.Group
	id    string
	count uint64
	// orig holds, for every user touched, whether it was a member before
	// the callback ran, so that an add undone by a remove is no change.
	orig map[string]bool
	done bool
}

// errTxDone is returned by a GroupTx used after its callback returned.
var errTxDone = errors.New("group transaction is over")

func newGroupTx(b *txn, g *store.Group) *groupTx {
	return &groupTx{
		b: b, g: g, id: g.ID,
		count: getU64(b.memberCounts(), []byte(g.ID)),
		orig:  make(map[string]bool),
	}
}

func (t *groupTx) Group() *store.Group { return t.g }

func (t *groupTx) HasMember(userID string) bool {
	if t.done {
		return false
	}
	return t.b.members().Get(pair(t.id, userID)) != nil
}

func (t *groupTx) AddMember(userID string) error {
	if t.done {
		return fmt.Errorf("bolt: add member %q: %w", userID, errTxDone)
	}
	key := pair(t.id, userID)
	if t.b.members().Get(key) != nil {
		return nil
	}
	raw := t.b.users().Get([]byte(userID))
	if raw == nil || !validID(userID) {
		return fmt.Errorf("bolt: add member %q to group %q: %w", userID, t.id, store.ErrNotFound)
	}
	d, err := memberDisplay(raw)
	if err != nil {
		return fmt.Errorf("bolt: add member %q to group %q: %w", userID, t.id, err)
	}
	if err := t.b.members().Put(key, []byte(d)); err != nil {
		return fmt.Errorf("bolt: add member %q to group %q: %w", userID, t.id, err)
	}
	if err := t.b.memberOf().Put(pair(userID, t.id), nil); err != nil {
		return fmt.Errorf("bolt: add member %q to group %q: %w", userID, t.id, err)
	}
	t.count++
	if _, ok := t.orig[userID]; !ok {
		t.orig[userID] = false
	}
	return nil
}

func (t *groupTx) RemoveMember(userID string) error {
	if t.done {
		return fmt.Errorf("bolt: remove member %q: %w", userID, errTxDone)
	}
	key := pair(t.id, userID)
	if t.b.members().Get(key) == nil {
		return nil
	}
	if err := t.b.members().Delete(key); err != nil {
		return fmt.Errorf("bolt: remove member %q from group %q: %w", userID, t.id, err)
	}
	if err := t.b.memberOf().Delete(pair(userID, t.id)); err != nil {
		return fmt.Errorf("bolt: remove member %q from group %q: %w", userID, t.id, err)
	}
	t.count--
	if _, ok := t.orig[userID]; !ok {
		t.orig[userID] = true
	}
	return nil
}

func (t *groupTx) Members() ([]store.Member, error) {
	if t.done {
		return nil, fmt.Errorf("bolt: members: %w", errTxDone)
	}
	return t.b.groupMembers(t.id)
}

func (t *groupTx) MemberCount() int { return int(t.count) }

// changes lists, in id order, the users whose membership differs from
// before the callback.
func (t *groupTx) changes() (added, removed []string) {
	for uid, was := range t.orig {
		is := t.b.members().Get(pair(t.id, uid)) != nil
		switch {
		case is && !was:
			added = append(added, uid)
		case !is && was:
			removed = append(removed, uid)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}

// finish records the member count and enqueues the group and every user
// whose membership changed.
func (t *groupTx) finish(added, removed []string) error {
	if t.count == 0 {
		if err := t.b.memberCounts().Delete([]byte(t.id)); err != nil {
			return err
		}
	} else if err := t.b.memberCounts().Put([]byte(t.id), u64(t.count)); err != nil {
		return err
	}
	keys := make([]store.Key, 0, 1+len(added)+len(removed))
	keys = append(keys, store.Key{Kind: store.KindGroup, ID: t.id})
	for _, u := range added {
		keys = append(keys, store.Key{Kind: store.KindUser, ID: u})
	}
	for _, u := range removed {
		keys = append(keys, store.Key{Kind: store.KindUser, ID: u})
	}
	return t.b.enqueue(keys...)
}

// memberDisplay decodes only what a member entry shows from a user record.
func memberDisplay(raw []byte) (string, error) {
	var u struct {
		UserName    string `json:"userName"`
		DisplayName string `json:"displayName"`
	}
	if err := json.Unmarshal(raw, &u); err != nil {
		return "", fmt.Errorf("decode user: %w", err)
	}
	return display(&store.User{UserName: u.UserName, DisplayName: u.DisplayName}), nil
}

func (b *txn) groupMembers(id string) ([]store.Member, error) {
	var out []store.Member
	if n := getU64(b.memberCounts(), []byte(id)); n > 0 {
		out = make([]store.Member, 0, n)
	}
	err := scanPrefix(b.members(), prefix(id), func(uid string, v []byte) error {
		out = append(out, store.Member{UserID: uid, Display: string(v)})
		return nil
	})
	return out, err
}

func checkGroup(g *store.Group) error {
	if !validID(g.ID) {
		return fmt.Errorf("id %q: %w", g.ID, store.ErrInvalid)
	}
	if g.DisplayName == "" {
		return fmt.Errorf("displayName %q: %w", g.DisplayName, store.ErrInvalid)
	}
	return nil
}

func decodeGroup(data []byte) (*store.Group, error) {
	g := new(store.Group)
	if err := json.Unmarshal(data, g); err != nil {
		return nil, fmt.Errorf("decode group: %w", err)
	}
	return g, nil
}

func memberDetail(added, removed int) string {
	return fmt.Sprintf("members +%d -%d", added, removed)
}

// touchGroup bumps a group's version and modification time because its
// member list changed behind its back (a member user was deleted).
func (b *txn) touchGroup(id string) error {
	raw := b.groups().Get([]byte(id))
	if raw == nil {
		return fmt.Errorf("membership of missing group %q", id)
	}
	g, err := decodeGroup(raw)
	if err != nil {
		return err
	}
	g.Meta.Version++
	g.Meta.Modified = b.now
	data, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encode group: %w", err)
	}
	return b.groups().Put([]byte(id), data)
}

// CreateGroup stores g, assigning g.ID (when empty) and g.Meta, and runs
// fn (may be nil) in the same transaction to add the initial members. On
// success *g is the stored group, including fn's edits. It returns
// ErrConflict when the displayName (case-insensitively) or the id is
// taken, ErrInvalid for an empty displayName, and fn's error unchanged.
func (s *Store) CreateGroup(ctx context.Context, actor store.Actor, g *store.Group, fn func(tx store.GroupTx) error) error {
	ng := *g
	if ng.ID == "" {
		ng.ID = store.NewID()
	}
	if err := checkGroup(&ng); err != nil {
		return fmt.Errorf("bolt: create group %q: %w", ng.DisplayName, err)
	}
	var result *store.Group
	var fnErr error
	err := s.write(ctx, func(b *txn) error {
		fnErr = nil
		var err error
		result, err = b.createGroup(actor, ng, watch(fn, &fnErr))
		return err
	})
	if fnErr != nil && err == fnErr {
		return err // the callback's own error, unchanged
	}
	if err != nil {
		return fmt.Errorf("bolt: create group %q: %w", ng.DisplayName, err)
	}
	*g = *result
	return nil
}

// watch wraps a callback so that its error is recorded in *fnErr, which
// tells the caller's error apart from the store's. A nil fn stays nil.
func watch[T any](fn func(T) error, fnErr *error) func(T) error {
	if fn == nil {
		return nil
	}
	return func(tx T) error {
		*fnErr = fn(tx)
		return *fnErr
	}
}

// createGroup stores a validated group and runs fn on it.
func (b *txn) createGroup(actor store.Actor, ng store.Group, fn func(store.GroupTx) error) (*store.Group, error) {
	if b.groups().Get([]byte(ng.ID)) != nil {
		return nil, fmt.Errorf("id %q: %w", ng.ID, store.ErrConflict)
	}
	rec := ng
	rec.Attributes = bytes.Clone(ng.Attributes) // fn edits its own copy
	gt := newGroupTx(b, &rec)
	if fn != nil {
		err := fn(gt)
		gt.done = true
		if err != nil {
			return nil, err
		}
	}
	gt.done = true
	if rec.ID != ng.ID {
		return nil, fmt.Errorf("id changed to %q: %w", rec.ID, store.ErrInvalid)
	}
	if err := checkGroup(&rec); err != nil {
		return nil, err
	}
	name := []byte(strings.ToLower(rec.DisplayName))
	if b.groupNames().Get(name) != nil {
		return nil, fmt.Errorf("displayName %q: %w", rec.DisplayName, store.ErrConflict)
	}
	if err := b.groupNames().Put(name, []byte(rec.ID)); err != nil {
		return nil, err
	}
	rec.Meta = store.Meta{Version: 1, Created: b.now, Modified: b.now}
	data, err := json.Marshal(&rec)
	if err != nil {
		return nil, fmt.Errorf("encode: %w: %w", store.ErrInvalid, err)
	}
	if err := b.groups().Put([]byte(rec.ID), data); err != nil {
		return nil, err
	}
	if err := addU64(b.meta(), metaGroups, 1); err != nil {
		return nil, err
	}
	added, _ := gt.changes()
	detail := ""
	if len(added) > 0 {
		detail = memberDetail(len(added), 0)
	}
	if err := b.appendEvent(actor, "create", store.KindGroup, rec.ID, detail); err != nil {
		return nil, err
	}
	if err := gt.finish(added, nil); err != nil {
		return nil, err
	}
	return &rec, nil
}

// GetGroup returns the group with the given id (without members), or
// ErrNotFound.
func (s *Store) GetGroup(ctx context.Context, id string) (*store.Group, error) {
	var data []byte
	err := s.read(ctx, func(b *txn) error {
		data = bytes.Clone(b.groups().Get([]byte(id)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: get group %q: %w", id, err)
	}
	if data == nil {
		return nil, fmt.Errorf("bolt: get group %q: %w", id, store.ErrNotFound)
	}
	g, err := decodeGroup(data)
	if err != nil {
		return nil, fmt.Errorf("bolt: get group %q: %w", id, err)
	}
	return g, nil
}

// GroupMembers lists a group's members in user-id order, or returns
// ErrNotFound for an unknown group.
func (s *Store) GroupMembers(ctx context.Context, id string) ([]store.Member, error) {
	var out []store.Member
	err := s.read(ctx, func(b *txn) error {
		if b.groups().Get([]byte(id)) == nil {
			return store.ErrNotFound
		}
		var err error
		out, err = b.groupMembers(id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: group members %q: %w", id, err)
	}
	return out, nil
}

// UpdateGroup runs fn on a fresh copy of the stored group inside one
// transaction; fn may also change members. A change of members alone
// bumps the version too. See UpdateUser for versions, no-op updates and
// errors.
func (s *Store) UpdateGroup(ctx context.Context, actor store.Actor, id string, ifVersion uint64, fn func(tx store.GroupTx) error) (*store.Group, error) {
	var result *store.Group
	var fnErr error
	err := s.write(ctx, func(b *txn) error {
		fnErr = nil
		var err error
		result, err = b.updateGroup(actor, id, ifVersion, watch(fn, &fnErr))
		return err
	})
	if fnErr != nil && err == fnErr {
		return nil, err // the callback's own error, unchanged
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: update group %q: %w", id, err)
	}
	return result, nil
}

func (b *txn) updateGroup(actor store.Actor, id string, ifVersion uint64, fn func(store.GroupTx) error) (*store.Group, error) {
	raw := b.groups().Get([]byte(id))
	if raw == nil {
		return nil, store.ErrNotFound
	}
	raw = bytes.Clone(raw) // compared after the member writes below
	old, err := decodeGroup(raw)
	if err != nil {
		return nil, err
	}
	if ifVersion != 0 && ifVersion != old.Meta.Version {
		return nil, fmt.Errorf("stored version %d, caller has %d: %w", old.Meta.Version, ifVersion, store.ErrVersionMismatch)
	}
	// fn edits its own decoded copy; old stays intact for the comparison.
	g, err := decodeGroup(raw)
	if err != nil {
		return nil, err
	}
	gt := newGroupTx(b, g)
	if fn != nil {
		err := fn(gt)
		gt.done = true
		if err != nil {
			return nil, err
		}
	}
	gt.done = true
	if g.ID != id {
		return nil, fmt.Errorf("id changed to %q: %w", g.ID, store.ErrInvalid)
	}
	if err := checkGroup(g); err != nil {
		return nil, err
	}
	added, removed := gt.changes()
	g.Meta = old.Meta
	same, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("encode: %w: %w", store.ErrInvalid, err)
	}
	if bytes.Equal(same, raw) && len(added) == 0 && len(removed) == 0 {
		// Adds undone by removes may have rewritten keys with equal
		// values; the data is unchanged and nothing else is written.
		return old, nil
	}
	if oldName, newName := strings.ToLower(old.DisplayName), strings.ToLower(g.DisplayName); oldName != newName {
		if owner := b.groupNames().Get([]byte(newName)); owner != nil && string(owner) != id {
			return nil, fmt.Errorf("displayName %q: %w", g.DisplayName, store.ErrConflict)
		}
		if err := b.groupNames().Delete([]byte(oldName)); err != nil {
			return nil, err
		}
		if err := b.groupNames().Put([]byte(newName), []byte(id)); err != nil {
			return nil, err
		}
	}
	g.Meta.Version++
	g.Meta.Modified = b.now
	data, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("encode: %w: %w", store.ErrInvalid, err)
	}
	if err := b.groups().Put([]byte(id), data); err != nil {
		return nil, err
	}
	var parts []string
	if old.DisplayName != g.DisplayName {
		parts = append(parts, "displayName")
	}
	if old.ExternalID != g.ExternalID {
		parts = append(parts, "externalId")
	}
	if !bytes.Equal(old.Attributes, g.Attributes) {
		parts = append(parts, "attributes")
	}
	detail := ""
	if len(parts) > 0 {
		detail = "changed " + strings.Join(parts, ",")
	}
	if len(added)+len(removed) > 0 {
		if detail != "" {
			detail += "; "
		}
		detail += memberDetail(len(added), len(removed))
	}
	if err := b.appendEvent(actor, "update", store.KindGroup, id, detail); err != nil {
		return nil, err
	}
	if err := gt.finish(added, removed); err != nil {
		return nil, err
	}
	return g, nil
}

// DeleteGroup removes the group, its name index entry and all of its
// memberships and formula bindings, and enqueues the group and every user
// that was a member.
// It returns ErrNotFound for an unknown id.
func (s *Store) DeleteGroup(ctx context.Context, actor store.Actor, id string, ifVersion uint64) error {
	err := s.write(ctx, func(b *txn) error {
		raw := b.groups().Get([]byte(id))
		if raw == nil {
			return store.ErrNotFound
		}
		g, err := decodeGroup(raw)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != g.Meta.Version {
			return fmt.Errorf("stored version %d, caller has %d: %w", g.Meta.Version, ifVersion, store.ErrVersionMismatch)
		}
		var users []string
		if err := scanPrefix(b.members(), prefix(id), func(uid string, _ []byte) error {
			users = append(users, uid)
			return nil
		}); err != nil {
			return err
		}
		keys := make([]store.Key, 0, 1+len(users))
		keys = append(keys, store.Key{Kind: store.KindGroup, ID: id})
		for _, uid := range users {
			if err := b.members().Delete(pair(id, uid)); err != nil {
				return err
			}
			if err := b.memberOf().Delete(pair(uid, id)); err != nil {
				return err
			}
			keys = append(keys, store.Key{Kind: store.KindUser, ID: uid})
		}
		if err := b.memberCounts().Delete([]byte(id)); err != nil {
			return err
		}
		if err := b.deleteGroupBindings(id); err != nil {
			return err
		}
		if err := b.groupNames().Delete([]byte(strings.ToLower(g.DisplayName))); err != nil {
			return err
		}
		if err := b.groups().Delete([]byte(id)); err != nil {
			return err
		}
		if err := addU64(b.meta(), metaGroups, -1); err != nil {
			return err
		}
		detail := ""
		if len(users) > 0 {
			detail = memberDetail(0, len(users))
		}
		if err := b.appendEvent(actor, "delete", store.KindGroup, id, detail); err != nil {
			return err
		}
		return b.enqueue(keys...)
	})
	if err != nil {
		return fmt.Errorf("bolt: delete group %q: %w", id, err)
	}
	return nil
}

// FindGroupByName returns the group whose displayName equals displayName
// case-insensitively, or ErrNotFound.
func (s *Store) FindGroupByName(ctx context.Context, displayName string) (*store.Group, error) {
	var data []byte
	err := s.read(ctx, func(b *txn) error {
		id := b.groupNames().Get([]byte(strings.ToLower(displayName)))
		if id == nil {
			return store.ErrNotFound
		}
		data = bytes.Clone(b.groups().Get(id))
		if data == nil {
			return fmt.Errorf("name index entry for missing group %q", id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: find group %q: %w", displayName, err)
	}
	g, err := decodeGroup(data)
	if err != nil {
		return nil, fmt.Errorf("bolt: find group %q: %w", displayName, err)
	}
	return g, nil
}

// ScanGroups calls fn for every group in id order, starting after
// `after`, a page per read transaction (see ScanUsers).
func (s *Store) ScanGroups(ctx context.Context, after string, fn func(*store.Group) bool) error {
	for {
		page, err := s.readPage(ctx, iGroups, after)
		if err != nil {
			return fmt.Errorf("bolt: scan groups: %w", err)
		}
		for _, v := range page {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("bolt: scan groups: %w", err)
			}
			g, err := decodeGroup(v)
			if err != nil {
				return fmt.Errorf("bolt: scan groups: %w", err)
			}
			if !fn(g) {
				return nil
			}
			after = g.ID
		}
		if len(page) < scanPage {
			return nil
		}
	}
}

// CountGroups returns the number of groups from a counter, in O(1).
func (s *Store) CountGroups(ctx context.Context) (int, error) {
	var n uint64
	err := s.read(ctx, func(b *txn) error {
		n = getU64(b.meta(), metaGroups)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: count groups: %w", err)
	}
	return int(n), nil
}

// memberCount reads a group's member counter (used by Check).
func memberCount(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// GroupWithMembers reads a group and its members in one read transaction,
// so the members are those of the group's version.
func (s *Store) GroupWithMembers(ctx context.Context, id string) (*store.Group, []store.Member, error) {
	var data []byte
	var members []store.Member
	err := s.read(ctx, func(b *txn) error {
		v := b.groups().Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		data = bytes.Clone(v)
		var err error
		members, err = b.groupMembers(id)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bolt: get group %q: %w", id, err)
	}
	g, err := decodeGroup(data)
	if err != nil {
		return nil, nil, fmt.Errorf("bolt: get group %q: %w", id, err)
	}
	return g, members, nil
}
