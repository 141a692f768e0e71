package faults

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestInjector(t *testing.T) {
	var i Injector
	take := func(ctx context.Context) (int, bool, string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
		s, ok := i.Take(w, r)
		return s, ok, w.Header().Get("Retry-After")
	}
	if s, ok, ra := take(t.Context()); s != 0 || !ok || ra != "" {
		t.Fatalf("no fault asked: %d %v %q", s, ok, ra)
	}
	i.Fail(2, 429, "7")
	for range 2 {
		if s, ok, ra := take(t.Context()); s != 429 || !ok || ra != "7" {
			t.Fatalf("failing request: %d %v %q", s, ok, ra)
		}
	}
	if s, _, ra := take(t.Context()); s != 0 || ra != "" {
		t.Fatalf("after two failures: %d %q", s, ra)
	}
	i.Slow(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, ok, _ := take(ctx); ok {
		t.Fatal("a held request whose client gave up was to be answered")
	}
	i.Slow(0)
	if _, ok, _ := take(t.Context()); !ok {
		t.Fatal("Slow(0) did not end the hold")
	}
}
