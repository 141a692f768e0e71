package bolt

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// Benchmarks run only with -bench. The 1,000- and 100,000-user files are
// built once per process (NoSync, 10,000 writes per transaction) and
// removed by TestMain; benchmarks that write work on a copy.

func TestMain(m *testing.M) {
	code := m.Run()
	fixtures.mu.Lock()
	if fixtures.dir != "" {
		_ = os.RemoveAll(fixtures.dir)
	}
	fixtures.mu.Unlock()
	os.Exit(code)
}

// fixture is a store file with n users, all members of one group.
type fixture struct {
	path    string
	ids     []string
	names   []string
	groupID string
}

var fixtures struct {
	mu  sync.Mutex
	dir string
	byN map[int]*fixture
}

// benchUser is a user with a realistic SCIM document (about 400 bytes).
func benchUser(i int) store.User {
	name := fmt.Sprintf("user%06d", i)
	attrs := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":%q,"name":{"givenName":"User","familyName":"Number %d"},"displayName":"User %d","emails":[{"value":"%s@example.com","type":"work","primary":true}],"active":true,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Engineering","employeeNumber":"%d"}}`, name, i, i, name, i)
	return store.User{
		ID:          store.NewID(),
		UserName:    name,
		ExternalID:  fmt.Sprintf("sub-%06d", i),
		Emails:      []string{name + "@example.com"},
		DisplayName: fmt.Sprintf("User %d", i),
		Active:      true,
		Attributes:  []byte(attrs),
	}
}

// bulkUsers creates users [from, to) in transactions of 10,000 and
// returns their ids and names.
func bulkUsers(tb testing.TB, s *Store, from, to int) (ids, names []string) {
	tb.Helper()
	const chunk = 10000
	for lo := from; lo < to; lo += chunk {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b := newTxn(tx)
			for i := lo; i < min(lo+chunk, to); i++ {
				u := benchUser(i)
				if _, err := b.createUser("bench", u); err != nil {
					return err
				}
				ids = append(ids, u.ID)
				names = append(names, u.UserName)
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("bulk users: %v", err)
		}
	}
	return ids, names
}

// bulkMembers adds ids to a group in transactions of 10,000.
func bulkMembers(tb testing.TB, s *Store, groupID string, ids []string) {
	tb.Helper()
	const chunk = 10000
	for lo := 0; lo < len(ids); lo += chunk {
		part := ids[lo:min(lo+chunk, len(ids))]
		err := s.db.Update(func(tx *bbolt.Tx) error {
			_, err := newTxn(tx).updateGroup("bench", groupID, 0, func(gt store.GroupTx) error {
				for _, id := range part {
					if err := gt.AddMember(id); err != nil {
						return err
					}
				}
				return nil
			})
			return err
		})
		if err != nil {
			tb.Fatalf("bulk members: %v", err)
		}
	}
}

func getFixture(b *testing.B, n int) *fixture {
	b.Helper()
	fixtures.mu.Lock()
	defer fixtures.mu.Unlock()
	if f := fixtures.byN[n]; f != nil {
		return f
	}
	if fixtures.dir == "" {
		dir, err := os.MkdirTemp("", "scimbridge-bolt-bench-")
		if err != nil {
			b.Fatal(err)
		}
		fixtures.dir = dir
		fixtures.byN = make(map[int]*fixture)
	}
	f := &fixture{path: filepath.Join(fixtures.dir, fmt.Sprintf("users-%d.db", n))}
	s, err := Open(f.path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	f.ids, f.names = bulkUsers(b, s, 0, n)
	g := &store.Group{DisplayName: "everyone", Attributes: []byte(`{"displayName":"everyone"}`)}
	if err := s.CreateGroup(context.Background(), "bench", g, nil); err != nil {
		b.Fatal(err)
	}
	f.groupID = g.ID
	bulkMembers(b, s, g.ID, f.ids)
	if err := s.db.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	fixtures.byN[n] = f
	return f
}

// copyFixture copies a fixture file into b's temporary directory.
func copyFixture(b *testing.B, f *fixture) string {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "copy.db")
	in, err := os.Open(f.path)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	return dst
}

func openBench(b *testing.B, path string) *Store {
	b.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

var sizes = []struct {
	name string
	n    int
}{{"1k", 1000}, {"100k", 100000}}

// BenchmarkCreateUserParallel measures durable creates (fsync on) from 16
// goroutines sharing commits through DB.Batch.
func BenchmarkCreateUserParallel(b *testing.B) {
	s := openBench(b, filepath.Join(b.TempDir(), "create.db"))
	ctx := context.Background()
	const goroutines = 16
	b.SetParallelism((goroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u := benchUser(int(next.Add(1)))
			u.ID = ""
			if err := s.CreateUser(ctx, "bench", &u); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

func BenchmarkGetUser(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			f := getFixture(b, size.n)
			s := openBench(b, f.path)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				if _, err := s.GetUser(ctx, f.ids[rng.IntN(len(f.ids))]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFindUserByUserName(b *testing.B) {
	for _, size := range sizes {
		b.Run(size.name, func(b *testing.B) {
			f := getFixture(b, size.n)
			s := openBench(b, f.path)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				name := f.names[rng.IntN(len(f.names))]
				us, err := s.FindUsers(ctx, store.UserQuery{UserName: &name})
				if err != nil || len(us) != 1 {
					b.Fatalf("FindUsers(%q) = %d users, %v", name, len(us), err)
				}
			}
		})
	}
}

// BenchmarkAddMemberTo100kGroup adds one new member per operation (fsync
// on) to a group that already has 100,000, and reports the pages each
// commit writes, which stays small because no member list is rewritten.
func BenchmarkAddMemberTo100kGroup(b *testing.B) {
	f := getFixture(b, 100000)
	s := openBench(b, copyFixture(b, f))
	ctx := context.Background()
	extra, _ := bulkUsers(b, s, 100000, 100000+b.N)
	before := s.db.Stats().TxStats
	b.ResetTimer()
	for i := range b.N {
		_, err := s.UpdateGroup(ctx, "bench", f.groupID, 0, func(tx store.GroupTx) error {
			return tx.AddMember(extra[i])
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	after := s.db.Stats().TxStats
	b.ReportMetric(float64(after.GetWrite()-before.GetWrite())/float64(b.N), "pages/op")
	if n := memberCountOf(s, f.groupID); n != 100000+b.N {
		b.Fatalf("group has %d members, want %d", n, 100000+b.N)
	}
}

func memberCountOf(s *Store, groupID string) int {
	var n int
	_ = s.db.View(func(tx *bbolt.Tx) error {
		n = int(getU64(tx.Bucket(bucketNames[iMemberCounts]), []byte(groupID)))
		return nil
	})
	return n
}

func BenchmarkGroupMembers100k(b *testing.B) {
	f := getFixture(b, 100000)
	s := openBench(b, f.path)
	ctx := context.Background()
	for b.Loop() {
		ms, err := s.GroupMembers(ctx, f.groupID)
		if err != nil || len(ms) != 100000 {
			b.Fatalf("GroupMembers = %d, %v", len(ms), err)
		}
	}
}

// BenchmarkOpen100kUsers measures Open (and Close) of a file holding
// 100,000 users and their indexes.
func BenchmarkOpen100kUsers(b *testing.B) {
	f := getFixture(b, 100000)
	path := copyFixture(b, f)
	for b.Loop() {
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	if fi, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	}
}
