package admin_test

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/fanout/admin"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

const token = "admin-token-0123456789"

func setup(t *testing.T) (*httptest.Server, store.Store, string) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u := &store.User{UserName: "alice", Active: true, Attributes: []byte(`{}`)}
	if err := st.CreateUser(t.Context(), "t", u); err != nil {
		t.Fatal(err)
	}
	items, _ := st.Pending(t.Context(), 0)
	if err := st.Dispatch(t.Context(), items, []string{"gitea"}); err != nil {
		t.Fatal(err)
	}
	due, _ := st.Due(t.Context(), "gitea", time.Now().Add(time.Second), 0)
	s := due[0]
	s.State, s.LastError, s.Attempts = store.StateParked, "gitea: 401 bad token", 3
	if err := st.Settle(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	h, err := admin.NewHandler(admin.Config{Store: st, Connectors: []string{"gitea"}, TokenHashes: [][sha256.Size]byte{sha256.Sum256([]byte(token))}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, st, u.ID
}

func call(t *testing.T, method, url, tok string, out any) int {
	req, _ := http.NewRequest(method, url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func TestAdminAPI(t *testing.T) {
	srv, st, id := setup(t)
	t.Run("ErrNoToken", func(t *testing.T) {
		if code := call(t, "GET", srv.URL+"/admin/v1/status", "", nil); code != 401 {
			t.Fatalf("status %d", code)
		}
		if code := call(t, "GET", srv.URL+"/admin/v1/status", "wrong-token-wrong-token", nil); code != 401 {
			t.Fatalf("status %d", code)
		}
	})
	t.Run("Summary", func(t *testing.T) {
		var sum admin.Summary
		if code := call(t, "GET", srv.URL+"/admin/v1/status", token, &sum); code != 200 {
			t.Fatalf("status %d", code)
		}
		if len(sum.Connectors) != 1 || sum.Connectors[0].Counts["parked"] != 1 || len(sum.Connectors[0].Problems) != 1 ||
			sum.Connectors[0].Problems[0].LastError != "gitea: 401 bad token" {
			t.Fatalf("summary %+v", sum)
		}
	})
	t.Run("UserByName", func(t *testing.T) {
		var us admin.UserStatus
		if code := call(t, "GET", srv.URL+"/admin/v1/users/alice", token, &us); code != 200 {
			t.Fatalf("status %d", code)
		}
		if us.ID != id || len(us.Statuses) != 1 || us.Statuses[0].State != "parked" || us.Statuses[0].Attempts != 3 {
			t.Fatalf("user status %+v", us)
		}
	})
	t.Run("ErrUnknownUser", func(t *testing.T) {
		if code := call(t, "GET", srv.URL+"/admin/v1/users/nobody", token, nil); code != 404 {
			t.Fatalf("status %d", code)
		}
	})
	t.Run("RetryUnparks", func(t *testing.T) {
		if code := call(t, "POST", srv.URL+"/admin/v1/users/"+id+"/retry", token, nil); code != 202 {
			t.Fatalf("status %d", code)
		}
		due, _ := st.Due(t.Context(), "gitea", time.Now().Add(time.Second), 0)
		if len(due) != 1 || due[0].State != store.StatePending || due[0].Attempts != 0 {
			t.Fatalf("after retry %+v", due)
		}
	})
	t.Run("ErrResyncWithoutConnectors", func(t *testing.T) {
		if code := call(t, "POST", srv.URL+"/admin/v1/resync", token, nil); code != 409 {
			t.Fatalf("status %d", code)
		}
	})
}

func TestGroupStatus(t *testing.T) {
	srv, st, uid := setup(t)
	g := &store.Group{DisplayName: "Platform Team", Attributes: []byte(`{}`)}
	if err := st.CreateGroup(t.Context(), "t", g, func(tx store.GroupTx) error { return tx.AddMember(uid) }); err != nil {
		t.Fatal(err)
	}
	items, _ := st.Pending(t.Context(), 0)
	if err := st.Dispatch(t.Context(), items, []string{"gitea"}); err != nil {
		t.Fatal(err)
	}
	var gs admin.GroupStatus
	if code := call(t, "GET", srv.URL+"/admin/v1/groups/Platform%20Team", token, &gs); code != 200 {
		t.Fatalf("status %d", code)
	}
	if gs.ID != g.ID || gs.Members != 1 || len(gs.Statuses) != 1 || gs.Statuses[0].State != "pending" || gs.Statuses[0].Key != "group/"+g.ID {
		t.Fatalf("group status %+v", gs)
	}
	var byID admin.GroupStatus
	if code := call(t, "GET", srv.URL+"/admin/v1/groups/"+g.ID, token, &byID); code != 200 || byID.DisplayName != "Platform Team" {
		t.Fatalf("by id: status %d, %+v", code, byID)
	}
	var e map[string]string
	if code := call(t, "GET", srv.URL+"/admin/v1/groups/nobody", token, &e); code != 404 || e["error"] != "no such group" {
		t.Fatalf("unknown group: status %d, %v", code, e)
	}
	if code := call(t, "POST", srv.URL+"/admin/v1/groups/"+g.ID+"/retry", token, nil); code != 202 {
		t.Fatalf("retry: status %d", code)
	}
}
