// Package bolt implements store.Store on go.etcd.io/bbolt, a single-file
// B+tree with one writer at a time and fsync on every commit.
//
// Every write is one bbolt transaction run through DB.Batch, so concurrent
// writers share a commit (and its fsync) while each still gets its own
// result: a write that returned nil is on disk together with its audit event
// and its reconcile keys.
//
// # Bucket layout
//
// All keys and values are bytes; "\x00" separates the parts of compound
// keys, which is why ids, userNames, externalIds and emails may not contain
// it. u64 is an 8-byte big-endian unsigned integer.
//
//	meta                   "schema" -> u64 schema version (1)
//	                       "users", "groups" -> u64 number of records
//	users                  user id -> JSON of store.User
//	groups                 group id -> JSON of store.Group (no members)
//	idx.user.userName      lower(userName) -> user id (unique)
//	idx.user.externalId    externalId "\x00" user id -> empty
//	idx.user.email         lower(email) "\x00" user id -> empty
//	idx.group.displayName  lower(displayName) -> group id (unique)
//	members                group id "\x00" user id -> member display
//	memberOf               user id "\x00" group id -> empty
//	memberCount            group id -> u64 number of members
//	events                 u64 seq -> JSON of store.Event
//	queue                  Key.String() -> u64 seq, u64 unix nanoseconds
//	queue.order            u64 seq -> Key.String() (oldest enqueue first)
//	settings               name -> value
//	status                 Key.String() "\x00" connector -> JSON of store.Status
//	due                    connector "\x00" u64 unix nanoseconds Key.String() -> empty
//	formulas               name "\x00" version -> JSON of store.Formula
//	bindings               group id "\x00" formula name -> JSON of store.Binding
//	bindings.formula       formula name "\x00" group id -> empty
//
// Non-unique indexes keep one key per (value, id) pair, so a lookup is a
// prefix scan and a change touches only the keys of the one record.
// Memberships are one key per member in each direction, so adding a member
// to a group of 100,000 touches a handful of keys, never a list.
//
// A group's version also increases when a user it contained is deleted,
// because its member list changed; a change of a member's display name
// rewrites the member entries but not the group's version.
package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// SchemaVersion is the layout version recorded in the meta bucket. Open
// refuses a file written with another version.
const SchemaVersion = 1

// Defaults for the zero values of Options.
const (
	// DefaultTimeout is how long Open waits for the file lock.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBatchSize is the most writes one commit carries. Writes
	// that arrive while a commit is on its way to disk wait for it and
	// then share the next one, so a lone writer pays one commit (no
	// timer) and concurrent writers share fsyncs.
	DefaultMaxBatchSize = 64
)

// Options configures Open. The zero value is what a server should use.
type Options struct {
	// Timeout is how long Open waits for the exclusive file lock that
	// another process (a second scimbridge on the same file) may hold.
	// Zero means DefaultTimeout; a negative value waits forever.
	Timeout time.Duration
	// NoSync skips fsync on commit. It is for benchmarks and bulk loads
	// only: with it, a crash of the machine can lose writes that were
	// acknowledged, which breaks the store's durability promise.
	NoSync bool
	// Logger receives a few lifecycle messages (open, close). Nil
	// discards them.
	Logger *slog.Logger
	// MaxBatchSize bounds how many writes share one commit. Zero means
	// DefaultMaxBatchSize.
	MaxBatchSize int
}

// Store is a store.Store kept in one bbolt file. It is safe for concurrent
// use; only one process may have the file open.
type Store struct {
	db   *bbolt.DB
	path string
	log  *slog.Logger

	// writes feeds the committer goroutine (see write).
	writes   chan *writeReq
	maxBatch int
	stopped  chan struct{}
	closing  sync.RWMutex
	closed   bool

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.StatusStore = (*Store)(nil)
)

// Bucket indexes into bucketNames.
const (
	iMeta = iota
	iUsers
	iGroups
	iUserNames
	iExternalIDs
	iEmails
	iGroupNames
	iMembers
	iMemberOf
	iMemberCounts
	iEvents
	iQueue
	iQueueOrder
	iSettings
	iStatus
	iDue
	iFormulas
	iBindings
	iBindingsByFormula
)

// bucketNames are the bucket names, in the order of the constants above.
var bucketNames = [...][]byte{
	iMeta:              []byte("meta"),
	iUsers:             []byte("users"),
	iGroups:            []byte("groups"),
	iUserNames:         []byte("idx.user.userName"),
	iExternalIDs:       []byte("idx.user.externalId"),
	iEmails:            []byte("idx.user.email"),
	iGroupNames:        []byte("idx.group.displayName"),
	iMembers:           []byte("members"),
	iMemberOf:          []byte("memberOf"),
	iMemberCounts:      []byte("memberCount"),
	iEvents:            []byte("events"),
	iQueue:             []byte("queue"),
	iQueueOrder:        []byte("queue.order"),
	iSettings:          []byte("settings"),
	iStatus:            []byte("status"),
	iDue:               []byte("due"),
	iFormulas:          []byte("formulas"),
	iBindings:          []byte("bindings"),
	iBindingsByFormula: []byte("bindings.formula"),
}

var (
	metaSchema = []byte("schema")
	metaUsers  = []byte("users")
	metaGroups = []byte("groups")
)

// Open opens (creating when missing) the store file at path, creates the
// buckets of a new file and checks the schema version of an existing one.
func Open(path string, opts Options) (*Store, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = 0 // bbolt waits forever
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      timeout,
		NoSync:       opts.NoSync,
		FreelistType: bbolt.FreelistMapType,
		// The freelist is rebuilt by scanning the file at open instead of
		// being rewritten by every commit: fewer pages per fsync.
		NoFreelistSync: true,
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	maxBatch := opts.MaxBatchSize
	if maxBatch <= 0 {
		maxBatch = DefaultMaxBatchSize
	}

	// A file with every bucket and the right schema needs no write (and
	// no fsync) to open; a new or older file gets its buckets created.
	created := false
	var users, groups uint64
	prepare := func(tx *bbolt.Tx) error {
		for _, name := range bucketNames {
			if tx.Bucket(name) != nil {
				continue
			}
			if !tx.Writable() {
				return errNeedWrite
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketNames[iMeta])
		v := meta.Get(metaSchema)
		if v == nil {
			if !tx.Writable() {
				return errNeedWrite
			}
			created = true
			return meta.Put(metaSchema, u64(SchemaVersion))
		}
		if len(v) != 8 || binary.BigEndian.Uint64(v) != SchemaVersion {
			return fmt.Errorf("schema version %x, want %d", v, SchemaVersion)
		}
		users, groups = getU64(meta, metaUsers), getU64(meta, metaGroups)
		return nil
	}
	err = db.View(prepare)
	if err == errNeedWrite {
		err = db.Update(prepare)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	log.Info("store opened", "path", path, "new", created,
		"users", users, "groups", groups, "elapsed", time.Since(start))
	st := &Store{db: db, path: path, log: log, writes: make(chan *writeReq, 256), maxBatch: maxBatch, stopped: make(chan struct{})}
	go st.commitLoop()
	return st, nil
}

// Close waits for running transactions and closes the file. Calling it
// again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Lock()
		s.closed = true
		close(s.writes)
		s.closing.Unlock()
		<-s.stopped // every accepted write has its answer
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("bolt: close: %w", err)
			return
		}
		s.log.Info("store closed", "path", s.path)
	})
	return s.closeErr
}

// Path is the file the store was opened on.
func (s *Store) Path() string { return s.path }

// lingerMax bounds how long the committer waits for the writers of its
// last batch to come back; lingerStep is one wait. A lone writer never
// waits: its last batch had one write.
const (
	lingerMax  = 500 * time.Microsecond
	lingerStep = 100 * time.Microsecond
)

// errClosed answers a write made after Close.
var errClosed = errors.New("bolt: the store is closed")

// errBatchFailed aborts a group commit in which one write failed.
var errBatchFailed = errors.New("a write in the batch failed")

// writeReq is one write waiting for the committer.
type writeReq struct {
	ctx  context.Context
	fn   func(b *txn) error
	done chan error
}

// write runs fn in a write transaction and returns once it is on disk.
//
// Writes go through one committer goroutine (group commit): it takes
// every write that is waiting, runs them in one transaction and answers
// them all after its fsync. A lone writer pays one commit and no timer;
// writers that arrive while a commit is on its way to disk share the
// next one. fn may run more than once (when another write of its batch
// fails, the batch is re-run without it) and must rebuild all of its
// results on each run.
func (s *Store) write(ctx context.Context, fn func(b *txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.closing.RLock()
	if s.closed {
		s.closing.RUnlock()
		return errClosed
	}
	s.writes <- req
	s.closing.RUnlock()
	return <-req.done
}

// commitLoop is the committer: it batches waiting writes until Close.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	batch := make([]*writeReq, 0, s.maxBatch)
	prev := 0
	for req := range s.writes {
		batch = append(batch[:0], req)
		// Take what is waiting; when fewer than last time are here, the
		// others are likely a moment away (their callers were answered
		// by the last commit), so linger briefly for them rather than
		// split the writers into alternating small and large commits.
		deadline := time.Now().Add(lingerMax)
	drain:
		for len(batch) < s.maxBatch {
			select {
			case r, ok := <-s.writes:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				continue
			default:
			}
			wait := time.Until(deadline)
			if len(batch) >= prev || wait <= 0 {
				break drain
			}
			t := time.NewTimer(min(wait, lingerStep))
			select {
			case r, ok := <-s.writes:
				t.Stop()
				if !ok {
					break drain
				}
				batch = append(batch, r)
			case <-t.C:
			}
		}
		prev = len(batch)
		s.commit(batch)
	}
}

// commit runs batch in one transaction. When one write fails, the writes
// before it are committed on their own, the failing one gets its error
// and nothing of it is kept, and the rest follow: each caller sees what
// it would have seen had the writes run one by one in arrival order.
func (s *Store) commit(batch []*writeReq) {
	for len(batch) > 0 {
		failed, ferr := -1, error(nil)
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for i, r := range batch {
				// A caller that gave up before its turn gets its error
				// and the write does not happen; once committed it
				// stands.
				err := r.ctx.Err()
				if err == nil {
					err = runSafely(r.fn, newTxn(tx))
				}
				if err != nil {
					failed, ferr = i, err
					return errBatchFailed
				}
			}
			return nil
		})
		if failed < 0 {
			if err != nil {
				err = fmt.Errorf("bolt: commit: %w", err)
			}
			for _, r := range batch {
				r.done <- err
			}
			return
		}
		if failed > 0 {
			s.commit(batch[:failed])
		}
		batch[failed].done <- ferr
		batch = batch[failed+1:]
	}
}

// runSafely turns a panic in a write callback into that write's error,
// so one bad callback cannot take the committer (and every writer) down.
func runSafely(fn func(b *txn) error, b *txn) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("bolt: write callback panicked: %v", v)
		}
	}()
	return fn(b)
}

// read runs fn in a read transaction. Byte slices obtained in fn are valid
// only until it returns, so fn copies out what it keeps.
func (s *Store) read(ctx context.Context, fn func(b *txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(tx *bbolt.Tx) error { return fn(newTxn(tx)) })
}

// txn gives names to the buckets of one transaction and opens each on
// first use: a point read needs one or two, and looking up all fourteen
// cost a quarter of a GetUser.
type txn struct {
	tx       *bbolt.Tx
	open     [len(bucketNames)]*bbolt.Bucket
	now      time.Time
	enqueued map[string]bool
}

func newTxn(tx *bbolt.Tx) *txn {
	return &txn{tx: tx, now: time.Now().UTC()}
}

func (b *txn) bucket(i int) *bbolt.Bucket {
	if b.open[i] == nil {
		bk := b.tx.Bucket(bucketNames[i])
		if appendMostly[i] && b.tx.Writable() {
			bk.FillPercent = appendFill
		}
		b.open[i] = bk
	}
	return b.open[i]
}

// appendMostly marks the buckets whose new keys mostly sort after all
// existing ones: time-ordered ids (store.NewID) and sequences. bbolt
// splits a full page in half by default, which suits random inserts but
// leaves append-only pages half empty for good; these buckets split at
// appendFill instead, which made a 100,000-user file a third smaller.
var appendMostly = [len(bucketNames)]bool{
	iUsers: true, iGroups: true, iEvents: true, iQueueOrder: true,
}

const appendFill = 0.9

func (b *txn) meta() *bbolt.Bucket              { return b.bucket(iMeta) }
func (b *txn) users() *bbolt.Bucket             { return b.bucket(iUsers) }
func (b *txn) groups() *bbolt.Bucket            { return b.bucket(iGroups) }
func (b *txn) userNames() *bbolt.Bucket         { return b.bucket(iUserNames) }
func (b *txn) externalIDs() *bbolt.Bucket       { return b.bucket(iExternalIDs) }
func (b *txn) emails() *bbolt.Bucket            { return b.bucket(iEmails) }
func (b *txn) groupNames() *bbolt.Bucket        { return b.bucket(iGroupNames) }
func (b *txn) members() *bbolt.Bucket           { return b.bucket(iMembers) }
func (b *txn) memberOf() *bbolt.Bucket          { return b.bucket(iMemberOf) }
func (b *txn) memberCounts() *bbolt.Bucket      { return b.bucket(iMemberCounts) }
func (b *txn) events() *bbolt.Bucket            { return b.bucket(iEvents) }
func (b *txn) queue() *bbolt.Bucket             { return b.bucket(iQueue) }
func (b *txn) queueOrder() *bbolt.Bucket        { return b.bucket(iQueueOrder) }
func (b *txn) settings() *bbolt.Bucket          { return b.bucket(iSettings) }
func (b *txn) status() *bbolt.Bucket            { return b.bucket(iStatus) }
func (b *txn) due() *bbolt.Bucket               { return b.bucket(iDue) }
func (b *txn) formulas() *bbolt.Bucket          { return b.bucket(iFormulas) }
func (b *txn) bindings() *bbolt.Bucket          { return b.bucket(iBindings) }
func (b *txn) bindingsByFormula() *bbolt.Bucket { return b.bucket(iBindingsByFormula) }

// errNeedWrite tells Open that the file needs buckets created.
var errNeedWrite = errors.New("file needs initialising")

// u64 encodes v big-endian, so that byte order is numeric order.
func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// getU64 reads a counter; a missing or malformed value reads as zero.
func getU64(b *bbolt.Bucket, key []byte) uint64 {
	v := b.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// addU64 adds delta to the counter at key, deleting it when it reaches
// zero (a missing counter reads as zero).
func addU64(b *bbolt.Bucket, key []byte, delta int64) error {
	if delta == 0 {
		return nil
	}
	n := int64(getU64(b, key)) + delta
	if n < 0 {
		return fmt.Errorf("counter %q below zero", key)
	}
	if n == 0 {
		return b.Delete(key)
	}
	return b.Put(key, u64(uint64(n)))
}

// pair builds the compound key a "\x00" b.
func pair(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// prefix is the key prefix of every pair(a, ...).
func prefix(a string) []byte {
	return pair(a, "")
}

// scanPrefix calls fn with the part after p of every key starting with p,
// in key order. The suffix is copied; fn may keep it.
func scanPrefix(b *bbolt.Bucket, p []byte, fn func(suffix string, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && len(k) >= len(p) && string(k[:len(p)]) == string(p); k, v = c.Next() {
		if err := fn(string(k[len(p):]), v); err != nil {
			return err
		}
	}
	return nil
}
