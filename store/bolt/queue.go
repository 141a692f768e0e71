package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// appendEvent adds one audit event with the next sequence number.
func (b *txn) appendEvent(actor store.Actor, op string, kind store.Kind, id, detail string) error {
	seq, err := b.events().NextSequence()
	if err != nil {
		return fmt.Errorf("next event seq: %w", err)
	}
	data, err := json.Marshal(store.Event{
		Seq: seq, Time: b.now, Actor: actor, Op: op, Kind: kind, ID: id, Detail: detail,
	})
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	return b.events().Put(u64(seq), data)
}

// enqueue records keys as pending with a fresh sequence, replacing an
// older enqueue of the same key so that it moves to the back of the queue
// and a stale Ack no longer matches it. A key enqueued twice in one
// transaction gets one sequence.
func (b *txn) enqueue(keys ...store.Key) error {
	for _, k := range keys {
		ks := k.String()
		if b.enqueued[ks] {
			continue
		}
		if old := b.queue().Get([]byte(ks)); len(old) == 16 {
			if err := b.queueOrder().Delete(old[:8]); err != nil {
				return err
			}
		}
		seq, err := b.queueOrder().NextSequence()
		if err != nil {
			return fmt.Errorf("next queue seq: %w", err)
		}
		v := make([]byte, 16)
		binary.BigEndian.PutUint64(v[:8], seq)
		binary.BigEndian.PutUint64(v[8:], uint64(b.now.UnixNano()))
		if err := b.queue().Put([]byte(ks), v); err != nil {
			return err
		}
		if err := b.queueOrder().Put(v[:8], []byte(ks)); err != nil {
			return err
		}
		if b.enqueued == nil {
			b.enqueued = make(map[string]bool)
		}
		b.enqueued[ks] = true
	}
	return nil
}

// Events returns up to limit audit events with Seq > after, oldest first.
// A limit <= 0 means no limit.
func (s *Store) Events(ctx context.Context, after uint64, limit int) ([]store.Event, error) {
	if after == math.MaxUint64 {
		return nil, nil
	}
	var raw [][]byte
	err := s.read(ctx, func(b *txn) error {
		c := b.events().Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil; k, v = c.Next() {
			if limit > 0 && len(raw) >= limit {
				break
			}
			raw = append(raw, bytes.Clone(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: events: %w", err)
	}
	out := make([]store.Event, len(raw))
	for i, v := range raw {
		if err := json.Unmarshal(v, &out[i]); err != nil {
			return nil, fmt.Errorf("bolt: events: decode: %w", err)
		}
	}
	return out, nil
}

// Enqueue adds keys to the reconcile queue; a key already pending moves to
// the back with a new sequence. It returns ErrInvalid for a malformed key.
func (s *Store) Enqueue(ctx context.Context, keys ...store.Key) error {
	for _, k := range keys {
		if _, ok := store.ParseKey(k.String()); !ok {
			return fmt.Errorf("bolt: enqueue %q: %w", k.String(), store.ErrInvalid)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	err := s.write(ctx, func(b *txn) error { return b.enqueue(keys...) })
	if err != nil {
		return fmt.Errorf("bolt: enqueue: %w", err)
	}
	return nil
}

// Pending returns up to limit queued keys, oldest enqueue first. A limit
// <= 0 means no limit.
func (s *Store) Pending(ctx context.Context, limit int) ([]store.QueueItem, error) {
	var out []store.QueueItem
	err := s.read(ctx, func(b *txn) error {
		c := b.queueOrder().Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			key, ok := store.ParseKey(string(v))
			if !ok {
				return fmt.Errorf("malformed queue key %q", v)
			}
			item := store.QueueItem{Key: key, Seq: binary.BigEndian.Uint64(k)}
			if qv := b.queue().Get(v); len(qv) == 16 {
				item.Since = time.Unix(0, int64(binary.BigEndian.Uint64(qv[8:]))).UTC()
			}
			out = append(out, item)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: pending: %w", err)
	}
	return out, nil
}

// Ack removes each item whose key was not enqueued again since it was
// read (its stored sequence still equals item.Seq); others stay pending.
// Acking an unknown key is a no-op.
func (s *Store) Ack(ctx context.Context, items ...store.QueueItem) error {
	if len(items) == 0 {
		return nil
	}
	err := s.write(ctx, func(b *txn) error {
		for _, it := range items {
			if err := b.ack(it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: ack: %w", err)
	}
	return nil
}

// GetSetting returns a copy of the value stored under name, or ErrNotFound.
func (s *Store) GetSetting(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.read(ctx, func(b *txn) error {
		v := b.settings().Get([]byte(name))
		if v == nil {
			return store.ErrNotFound
		}
		out = bytes.Clone(v)
		if out == nil {
			out = []byte{}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: get setting %q: %w", name, err)
	}
	return out, nil
}

// PutSetting stores value under name, replacing any previous value. An
// empty name is ErrInvalid. Settings are not audited: they hold token
// hashes and similar values that never belong in the event log.
func (s *Store) PutSetting(ctx context.Context, name string, value []byte) error {
	if name == "" {
		return fmt.Errorf("bolt: put setting: empty name: %w", store.ErrInvalid)
	}
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	err := s.write(ctx, func(b *txn) error { return b.settings().Put([]byte(name), v) })
	if err != nil {
		return fmt.Errorf("bolt: put setting %q: %w", name, err)
	}
	return nil
}

// ack removes it from the queue unless the key was enqueued again since.
func (b *txn) ack(it store.QueueItem) error {
	ks := []byte(it.Key.String())
	v := b.queue().Get(ks)
	if len(v) != 16 || binary.BigEndian.Uint64(v[:8]) != it.Seq {
		return nil
	}
	if err := b.queue().Delete(ks); err != nil {
		return err
	}
	return b.queueOrder().Delete(u64(it.Seq))
}
