package connectortest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// OpenStore opens a bolt store in the test's temporary folder and closes
// it when the test ends.
func OpenStore(t testing.TB) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "connectortest.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// RunReconciler runs the real reconciler over st with conns, with short
// backoffs and no periodic resync, until the test ends.
func RunReconciler(t testing.TB, st store.Store, conns ...fanout.Connector) *fanout.Reconciler {
	t.Helper()
	r := fanout.New(st, conns, fanout.Options{Workers: 2, MinBackoff: 20 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, Poll: 10 * time.Millisecond, ResyncInterval: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// StatusOf returns key's status with connector, or a zero Status when the
// connector has none yet.
func StatusOf(t testing.TB, st store.Store, key store.Key, connector string) store.Status {
	t.Helper()
	sts, err := st.Statuses(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		if s.Connector == connector {
			return s
		}
	}
	return store.Status{}
}
