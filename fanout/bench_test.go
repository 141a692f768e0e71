package fanout_test

import (
	"context"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/store"
)

// BenchmarkResync10kConverged times one resync pass over 10,000 users
// whose desired state was already applied: it must queue nothing and
// make no downstream call.
func BenchmarkResync10kConverged(b *testing.B) {
	st := openStore(b)
	f := newFake("f")
	createUsers(b, st, 10_000)
	r := fanout.New(st, []fanout.Connector{f}, fanout.Options{Workers: 8, Poll: 5 * time.Millisecond, ResyncInterval: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		ok := 0
		_ = st.ScanStatuses(context.Background(), "f", func(s store.Status) bool {
			if s.State == store.StateOK {
				ok++
			}
			return true
		})
		if ok == 10_000 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d converged", ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, _, before := f.snapshot()
	b.ResetTimer()
	for range b.N {
		n, err := r.Resync(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n != 0 {
			b.Fatalf("resync queued %d converged users", n)
		}
	}
	b.StopTimer()
	cancel()
	<-done
	if _, _, after := f.snapshot(); after != before {
		b.Fatalf("resync made %d downstream calls", after-before)
	}
}
