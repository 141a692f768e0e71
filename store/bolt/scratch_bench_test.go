package bolt

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func BenchmarkScratchCreate(b *testing.B) {
	for _, nosync := range []bool{true, false} {
		for _, delay := range []time.Duration{500 * time.Microsecond, 2 * time.Millisecond, 10 * time.Millisecond} {
			b.Run(map[bool]string{true: "nosync", false: "sync"}[nosync]+"-"+delay.String(), func(b *testing.B) {
				s, err := Open(filepath.Join(b.TempDir(), "x.db"), Options{NoSync: nosync, MaxBatchDelay: delay})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				var commits, last atomic.Int64
				b.SetParallelism(8)
				var next atomic.Int64
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						u := benchUser(int(next.Add(1)))
						if err := s.write(context.Background(), func(t *txn) error {
							id := t.tx.ID()
							t.tx.OnCommit(func() {
								if last.Swap(int64(id)) != int64(id) {
									commits.Add(1)
								}
							})
							_, err := t.createUser("b", u)
							return err
						}); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "users/s")
				b.ReportMetric(float64(b.N)/float64(commits.Load()), "x")
			})
		}
	}
}
