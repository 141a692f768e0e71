package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// The per-connector reconcile state. A status is keyed by the object
// first, so that all connectors of one key are one prefix scan; the due
// index is keyed by connector and time, so that a connector's due keys
// are one range scan.

func statusKey(k store.Key, connector string) []byte { return pair(k.String(), connector) }

func dueKey(connector string, at time.Time, k store.Key) []byte {
	b := make([]byte, 0, len(connector)+1+8+len(k.String()))
	b = append(b, connector...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	return append(b, k.String()...)
}

func (b *txn) getStatus(k store.Key, connector string) (store.Status, bool, error) {
	v := b.status().Get(statusKey(k, connector))
	if v == nil {
		return store.Status{Connector: connector, Key: k}, false, nil
	}
	var st store.Status
	if err := json.Unmarshal(v, &st); err != nil {
		return st, false, fmt.Errorf("decode status %s %s: %w", k, connector, err)
	}
	st.Key, st.Connector = k, connector
	return st, true, nil
}

// isDue reports whether a status sits in the due index.
func isDue(st store.Status) bool {
	return st.State == store.StatePending || st.State == store.StateFailed
}

// putStatus writes st and keeps the due index in step with old.
func (b *txn) putStatus(old store.Status, existed bool, st store.Status) error {
	if existed && isDue(old) {
		if err := b.due().Delete(dueKey(old.Connector, old.NextAttempt, old.Key)); err != nil {
			return err
		}
	}
	if isDue(st) {
		if err := b.due().Put(dueKey(st.Connector, st.NextAttempt, st.Key), nil); err != nil {
			return err
		}
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return b.status().Put(statusKey(st.Key, st.Connector), data)
}

// Dispatch implements store.StatusStore.
func (s *Store) Dispatch(ctx context.Context, items []store.QueueItem, connectors []string) error {
	if len(items) == 0 {
		return nil
	}
	err := s.write(ctx, func(b *txn) error {
		for _, it := range items {
			for _, c := range connectors {
				old, existed, err := b.getStatus(it.Key, c)
				if err != nil {
					return err
				}
				st := old
				st.Gen++
				switch {
				case st.State == store.StateFailed && st.NextAttempt.After(b.now):
					// Backing off: the new change waits with the old one.
				default:
					st.State, st.NextAttempt = store.StatePending, b.now
				}
				if err := b.putStatus(old, existed, st); err != nil {
					return err
				}
			}
			if err := b.ack(it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: dispatch: %w", err)
	}
	return nil
}

// Due implements store.StatusStore.
func (s *Store) Due(ctx context.Context, connector string, now time.Time, limit int) ([]store.Status, error) {
	var out []store.Status
	err := s.read(ctx, func(b *txn) error {
		p := prefix(connector)
		c := b.due().Cursor()
		for k, _ := c.Seek(p); k != nil && strings.HasPrefix(string(k), string(p)); k, _ = c.Next() {
			rest := k[len(p):]
			if len(rest) < 8 {
				continue
			}
			at := int64(binary.BigEndian.Uint64(rest[:8]))
			if at > now.UnixNano() || (limit > 0 && len(out) >= limit) {
				break
			}
			key, ok := store.ParseKey(string(rest[8:]))
			if !ok {
				continue
			}
			st, _, err := b.getStatus(key, connector)
			if err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: due %s: %w", connector, err)
	}
	return out, nil
}

// Settle implements store.StatusStore.
func (s *Store) Settle(ctx context.Context, st store.Status) error {
	err := s.write(ctx, func(b *txn) error {
		cur, existed, err := b.getStatus(st.Key, st.Connector)
		if err != nil {
			return err
		}
		next := st
		next.Note = ""
		if existed && cur.Gen != st.Gen {
			// Dispatched again meanwhile: keep the outcome, stay due.
			next.Gen = cur.Gen
			next.State = store.StatePending
			if !cur.NextAttempt.IsZero() && isDue(cur) {
				next.NextAttempt = cur.NextAttempt
			} else {
				next.NextAttempt = b.now
			}
		}
		if err := b.putStatus(cur, existed, next); err != nil {
			return err
		}
		if st.Note != "" {
			return b.appendEvent(store.Actor("connector:"+st.Connector), "note", st.Key.Kind, st.Key.ID, st.Note)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: settle %s %s: %w", st.Connector, st.Key, err)
	}
	return nil
}

// Statuses implements store.StatusStore.
func (s *Store) Statuses(ctx context.Context, key store.Key) ([]store.Status, error) {
	var out []store.Status
	err := s.read(ctx, func(b *txn) error {
		return scanPrefix(b.status(), prefix(key.String()), func(conn string, v []byte) error {
			var st store.Status
			if err := json.Unmarshal(v, &st); err != nil {
				return err
			}
			st.Key, st.Connector = key, conn
			out = append(out, st)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: statuses %s: %w", key, err)
	}
	return out, nil
}

// ScanStatuses implements store.StatusStore.
func (s *Store) ScanStatuses(ctx context.Context, connector string, fn func(store.Status) bool) error {
	err := s.read(ctx, func(b *txn) error {
		c := b.status().Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			ks, conn, ok := strings.Cut(string(k), "\x00")
			if !ok || (connector != "" && conn != connector) {
				continue
			}
			key, ok := store.ParseKey(ks)
			if !ok {
				continue
			}
			var st store.Status
			if err := json.Unmarshal(v, &st); err != nil {
				return err
			}
			st.Key, st.Connector = key, conn
			if !fn(st) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: scan statuses: %w", err)
	}
	return nil
}

// Retry implements store.StatusStore.
func (s *Store) Retry(ctx context.Context, key store.Key, connectors ...string) error {
	err := s.write(ctx, func(b *txn) error {
		var conns []string
		if err := scanPrefix(b.status(), prefix(key.String()), func(conn string, _ []byte) error {
			conns = append(conns, conn)
			return nil
		}); err != nil {
			return err
		}
		if len(connectors) > 0 {
			conns = connectors
		}
		for _, c := range conns {
			old, existed, err := b.getStatus(key, c)
			if err != nil {
				return err
			}
			st := old
			st.Gen++
			st.State, st.NextAttempt, st.Attempts, st.AppliedHash = store.StatePending, b.now, 0, ""
			if err := b.putStatus(old, existed, st); err != nil {
				return err
			}
		}
		return b.appendEvent("admin", "retry", key.Kind, key.ID, strings.Join(conns, ","))
	})
	if err != nil {
		return fmt.Errorf("bolt: retry %s: %w", key, err)
	}
	return nil
}
