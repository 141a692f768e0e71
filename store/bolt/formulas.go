package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// Formulas and bindings:
//
//	formulas           name "\x00" version -> JSON of store.Formula
//	bindings           group id "\x00" formula name -> JSON of store.Binding
//	bindings.formula   formula name "\x00" group id -> empty

var _ store.FormulaStore = (*Store)(nil)

func checkName(what, v string) error {
	if strings.TrimSpace(v) == "" || strings.ContainsRune(v, 0) {
		return fmt.Errorf("%s %q: %w", what, v, store.ErrInvalid)
	}
	return nil
}

// PutFormula implements store.FormulaStore.
func (s *Store) PutFormula(ctx context.Context, actor store.Actor, f *store.Formula) error {
	if err := checkName("formula name", f.Name); err != nil {
		return fmt.Errorf("bolt: put formula: %w", err)
	}
	if err := checkName("formula version", f.Version); err != nil {
		return fmt.Errorf("bolt: put formula %s: %w", f.Name, err)
	}
	var meta store.Meta
	err := s.write(ctx, func(b *txn) error {
		key := pair(f.Name, f.Version)
		if raw := b.formulas().Get(key); raw != nil {
			var old store.Formula
			if err := json.Unmarshal(raw, &old); err != nil {
				return fmt.Errorf("decode formula: %w", err)
			}
			if !bytes.Equal(old.Source, f.Source) {
				return fmt.Errorf("version %s is stored with another source; publish a new version: %w", f.Version, store.ErrConflict)
			}
			meta = old.Meta
			return nil
		}
		nf := store.Formula{Name: f.Name, Version: f.Version, Source: f.Source,
			Meta: store.Meta{Version: 1, Created: b.now, Modified: b.now}}
		data, err := json.Marshal(&nf)
		if err != nil {
			return err
		}
		if err := b.formulas().Put(key, data); err != nil {
			return err
		}
		if err := b.appendEvent(actor, "create", store.KindFormula, f.Name, "version "+f.Version); err != nil {
			return err
		}
		meta = nf.Meta
		// Bindings that follow the latest version may now mean this one.
		var groups []string
		if err := scanPrefix(b.bindingsByFormula(), prefix(f.Name), func(group string, _ []byte) error {
			bd, err := b.getBinding(group, f.Name)
			if err != nil {
				return err
			}
			if bd.Version == "" {
				groups = append(groups, group)
			}
			return nil
		}); err != nil {
			return err
		}
		return b.enqueueMembers(groups...)
	})
	if err != nil {
		return fmt.Errorf("bolt: put formula %s %s: %w", f.Name, f.Version, err)
	}
	f.Meta = meta
	return nil
}

// GetFormula implements store.FormulaStore.
func (s *Store) GetFormula(ctx context.Context, name, version string) (*store.Formula, error) {
	var f *store.Formula
	err := s.read(ctx, func(b *txn) error {
		raw := b.formulas().Get(pair(name, version))
		if raw == nil {
			return store.ErrNotFound
		}
		f = new(store.Formula)
		return json.Unmarshal(raw, f)
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: get formula %s %s: %w", name, version, err)
	}
	return f, nil
}

// ListFormulas implements store.FormulaStore.
func (s *Store) ListFormulas(ctx context.Context) ([]store.Formula, error) {
	var out []store.Formula
	err := s.read(ctx, func(b *txn) error {
		return b.formulas().ForEach(func(_, v []byte) error {
			var f store.Formula
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("decode formula: %w", err)
			}
			out = append(out, f)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: list formulas: %w", err)
	}
	return out, nil
}

// DeleteFormula implements store.FormulaStore.
func (s *Store) DeleteFormula(ctx context.Context, actor store.Actor, name, version string) error {
	err := s.write(ctx, func(b *txn) error {
		key := pair(name, version)
		if b.formulas().Get(key) == nil {
			return store.ErrNotFound
		}
		var pinned []string
		if err := scanPrefix(b.bindingsByFormula(), prefix(name), func(group string, _ []byte) error {
			bd, err := b.getBinding(group, name)
			if err != nil {
				return err
			}
			if bd.Version == version {
				pinned = append(pinned, group)
			}
			return nil
		}); err != nil {
			return err
		}
		if len(pinned) > 0 {
			return fmt.Errorf("bound to %d group(s) at this version (first: %s): %w", len(pinned), pinned[0], store.ErrConflict)
		}
		if err := b.formulas().Delete(key); err != nil {
			return err
		}
		return b.appendEvent(actor, "delete", store.KindFormula, name, "version "+version)
	})
	if err != nil {
		return fmt.Errorf("bolt: delete formula %s %s: %w", name, version, err)
	}
	return nil
}

func (b *txn) getBinding(group, formula string) (*store.Binding, error) {
	raw := b.bindings().Get(pair(group, formula))
	if raw == nil {
		return nil, store.ErrNotFound
	}
	bd := new(store.Binding)
	if err := json.Unmarshal(raw, bd); err != nil {
		return nil, fmt.Errorf("decode binding: %w", err)
	}
	return bd, nil
}

// checkVersion applies the ifVersion rule of PutBinding and DeleteBinding
// to the stored binding old (nil when there is none).
func checkVersion(old *store.Binding, ifVersion uint64) error {
	switch {
	case ifVersion == 0:
		return nil
	case ifVersion == store.IfAbsent:
		if old != nil {
			return fmt.Errorf("binding exists (version %d): %w", old.Meta.Version, store.ErrVersionMismatch)
		}
		return nil
	case old == nil:
		return store.ErrNotFound
	case old.Meta.Version != ifVersion:
		return fmt.Errorf("stored version %d, caller has %d: %w", old.Meta.Version, ifVersion, store.ErrVersionMismatch)
	}
	return nil
}

// enqueueMembers enqueues every member of the groups, and the groups.
func (b *txn) enqueueMembers(groups ...string) error {
	for _, g := range groups {
		keys := []store.Key{{Kind: store.KindGroup, ID: g}}
		if err := scanPrefix(b.members(), prefix(g), func(uid string, _ []byte) error {
			keys = append(keys, store.Key{Kind: store.KindUser, ID: uid})
			return nil
		}); err != nil {
			return err
		}
		if err := b.enqueue(keys...); err != nil {
			return err
		}
	}
	return nil
}

// PutBinding implements store.FormulaStore.
func (s *Store) PutBinding(ctx context.Context, actor store.Actor, bd *store.Binding, ifVersion uint64) error {
	if err := checkName("group", bd.Group); err != nil {
		return fmt.Errorf("bolt: put binding: %w", err)
	}
	if err := checkName("formula", bd.Formula); err != nil {
		return fmt.Errorf("bolt: put binding: %w", err)
	}
	var meta store.Meta
	err := s.write(ctx, func(b *txn) error {
		if b.groups().Get([]byte(bd.Group)) == nil {
			return fmt.Errorf("group %s: %w", bd.Group, store.ErrNotFound)
		}
		old, err := b.getBinding(bd.Group, bd.Formula)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := checkVersion(old, ifVersion); err != nil {
			return err
		}
		// Versions come from one sequence for all bindings, so a binding
		// deleted and made again never reuses an ETag of the old one.
		seq, err := b.bindings().NextSequence()
		if err != nil {
			return err
		}
		nb := *bd
		op := "create"
		if old != nil {
			nb.Meta = store.Meta{Version: seq, Created: old.Meta.Created, Modified: b.now}
			op = "update"
		} else {
			nb.Meta = store.Meta{Version: seq, Created: b.now, Modified: b.now}
		}
		data, err := json.Marshal(&nb)
		if err != nil {
			return err
		}
		if err := b.bindings().Put(pair(bd.Group, bd.Formula), data); err != nil {
			return err
		}
		if err := b.bindingsByFormula().Put(pair(bd.Formula, bd.Group), nil); err != nil {
			return err
		}
		version := nb.Version
		if version == "" {
			version = "latest"
		}
		if err := b.appendEvent(actor, op, store.KindBinding, bd.Group, bd.Formula+"@"+version); err != nil {
			return err
		}
		meta = nb.Meta
		return b.enqueueMembers(bd.Group)
	})
	if err != nil {
		return fmt.Errorf("bolt: bind %s to group %s: %w", bd.Formula, bd.Group, err)
	}
	bd.Meta = meta
	return nil
}

// GetBinding implements store.FormulaStore.
func (s *Store) GetBinding(ctx context.Context, group, formula string) (*store.Binding, error) {
	var bd *store.Binding
	err := s.read(ctx, func(b *txn) error {
		var err error
		bd, err = b.getBinding(group, formula)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: binding of %s to group %s: %w", formula, group, err)
	}
	return bd, nil
}

// deleteBinding removes one binding's keys.
func (b *txn) deleteBinding(group, formula string) error {
	if err := b.bindings().Delete(pair(group, formula)); err != nil {
		return err
	}
	return b.bindingsByFormula().Delete(pair(formula, group))
}

// DeleteBinding implements store.FormulaStore.
func (s *Store) DeleteBinding(ctx context.Context, actor store.Actor, group, formula string, ifVersion uint64) error {
	err := s.write(ctx, func(b *txn) error {
		old, err := b.getBinding(group, formula)
		if err != nil {
			return err
		}
		if ifVersion == store.IfAbsent {
			return fmt.Errorf("binding exists: %w", store.ErrVersionMismatch)
		}
		if err := checkVersion(old, ifVersion); err != nil {
			return err
		}
		if err := b.deleteBinding(group, formula); err != nil {
			return err
		}
		if err := b.appendEvent(actor, "delete", store.KindBinding, group, formula); err != nil {
			return err
		}
		return b.enqueueMembers(group)
	})
	if err != nil {
		return fmt.Errorf("bolt: unbind %s from group %s: %w", formula, group, err)
	}
	return nil
}

// Bindings implements store.FormulaStore.
func (s *Store) Bindings(ctx context.Context, group string) ([]store.Binding, error) {
	var out []store.Binding
	err := s.read(ctx, func(b *txn) error {
		fn := func(_ string, v []byte) error {
			var bd store.Binding
			if err := json.Unmarshal(v, &bd); err != nil {
				return fmt.Errorf("decode binding: %w", err)
			}
			out = append(out, bd)
			return nil
		}
		if group == "" {
			return b.bindings().ForEach(func(_, v []byte) error { return fn("", v) })
		}
		return scanPrefix(b.bindings(), prefix(group), fn)
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: bindings: %w", err)
	}
	return out, nil
}

// deleteGroupBindings removes every binding of a group being deleted.
func (b *txn) deleteGroupBindings(group string) error {
	var formulas []string
	if err := scanPrefix(b.bindings(), prefix(group), func(formula string, _ []byte) error {
		formulas = append(formulas, formula)
		return nil
	}); err != nil {
		return err
	}
	for _, f := range formulas {
		if err := b.deleteBinding(group, f); err != nil {
			return err
		}
	}
	return nil
}
