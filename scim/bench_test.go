package scim_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// These benchmarks measure the server side of each request (routing,
// decoding, store, encoding) without a network in between; the load
// command (scimbridge bench) measures the same over real HTTP.

type benchServer struct {
	h  http.Handler
	st *bolt.Store
}

func newBenchServer(b *testing.B, opts bolt.Options) *benchServer {
	b.Helper()
	st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	h, err := scim.NewHandler(scim.Config{Store: st, Auth: scim.Tokens{{Name: "b", Hash: scim.HashToken(testToken)}}, BaseURL: "http://bench/scim/v2"})
	if err != nil {
		b.Fatal(err)
	}
	return &benchServer{h: h, st: st}
}

func (s *benchServer) serve(b *testing.B, method, path, body string, want int) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://bench/scim/v2"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
	}
	return rec
}

// seedUsers stores n users directly (fast, unsynced file) and returns
// their ids.
func seedUsers(b *testing.B, st store.Store, n int) []string {
	b.Helper()
	ids := make([]string, n)
	for i := range n {
		u := &store.User{UserName: fmt.Sprintf("seed%07d", i), Active: true, DisplayName: fmt.Sprintf("Seed %d", i),
			Emails:     []string{fmt.Sprintf("seed%07d@example.com", i)},
			Attributes: []byte(fmt.Sprintf(`{"userName":"seed%07d","displayName":"Seed %d","active":true,"emails":[{"value":"seed%07d@example.com","primary":true}]}`, i, i, i))}
		if err := st.CreateUser(b.Context(), "seed", u); err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
	}
	return ids
}

func BenchmarkCreateUserParallel16(b *testing.B) {
	s := newBenchServer(b, bolt.Options{})
	var n atomic.Int64
	b.SetParallelism(8) // 8 x GOMAXPROCS(2) = 16 concurrent clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			s.serve(b, "POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u%d","emails":[{"value":"u%d@example.com","primary":true}],"active":true}`, i, i), 201)
		}
	})
}

func BenchmarkGetUser(b *testing.B) {
	s := newBenchServer(b, bolt.Options{NoSync: true})
	ids := seedUsers(b, s.st, 1000)
	b.ResetTimer()
	for i := range b.N {
		s.serve(b, "GET", "/Users/"+ids[i%len(ids)], "", 200)
	}
}

func BenchmarkFilterUserNameEq(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			if testing.Short() && n > 1000 {
				b.Skip("short")
			}
			s := newBenchServer(b, bolt.Options{NoSync: true})
			seedUsers(b, s.st, n)
			b.ResetTimer()
			for i := range b.N {
				s.serve(b, "GET", fmt.Sprintf("/Users?filter=userName+eq+%%22seed%07d%%22", (i*7919)%n), "", 200)
			}
		})
	}
}

func BenchmarkAddMemberTo100kGroup(b *testing.B) {
	s := newBenchServer(b, bolt.Options{})
	ids := seedUsers(b, s.st, 100_000+b.N)
	g := &store.Group{DisplayName: "big", Attributes: []byte(`{"displayName":"big"}`)}
	if err := s.st.CreateGroup(b.Context(), "seed", g, func(tx store.GroupTx) error {
		for _, id := range ids[:100_000] {
			if err := tx.AddMember(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		s.serve(b, "PATCH", "/Groups/"+g.ID, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, ids[100_000+i]), 204)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
}

func BenchmarkGetGroup100kMembers(b *testing.B) {
	s := newBenchServer(b, bolt.Options{NoSync: true})
	ids := seedUsers(b, s.st, 100_000)
	g := &store.Group{DisplayName: "big", Attributes: []byte(`{"displayName":"big"}`)}
	if err := s.st.CreateGroup(b.Context(), "seed", g, func(tx store.GroupTx) error {
		for _, id := range ids {
			if err := tx.AddMember(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		s.serve(b, "GET", "/Groups/"+g.ID, "", 200)
	}
}

// BenchmarkGetUserHTTP is GET /Users/{id} over real loopback HTTP with 16
// concurrent clients (client and server share the machine's cores).
func BenchmarkGetUserHTTP(b *testing.B) {
	s := newBenchServer(b, bolt.Options{NoSync: true})
	ids := seedUsers(b, s.st, 1000)
	srv := httptest.NewServer(s.h)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			req, _ := http.NewRequest("GET", srv.URL+"/scim/v2/Users/"+ids[int(i)%len(ids)], nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
