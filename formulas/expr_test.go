package formulas

import "testing"

func TestFilters(t *testing.T) {
	for _, tc := range []struct{ filter, in, want string }{
		{"lower", "Ana.GARCIA", "ana.garcia"},
		{"local", "Ana.Garcia@example.com", "Ana.Garcia"},
		{"local", "weird@name@example.com", "weird@name"},
		{"local", "alice", "alice"},
		{"slug", "Ana María O'Neil", "ana-maria-o-neil"},
		{"slug", "  --Straße_42!!", "strasse-42"},
		{"slug", "Ana.Garcia", "ana-garcia"},
		{"slug", "Søren Łukasz Ærø", "soren-lukasz-aero"},
		{"slug", "日本", ""},
		{"slug", "", ""},
	} {
		if got := filters[tc.filter](tc.in); got != tc.want {
			t.Errorf("%s(%q) = %q, want %q", tc.filter, tc.in, got, tc.want)
		}
	}
}

func TestRenderChain(t *testing.T) {
	sc := scope{subject: Subject{User: UserView{UserName: "Ana.Garcia@Example.com"}}, params: map[string]any{"n": int64(3)}}
	tpl, problems := parseTemplate("ws-${{user.userName|local|slug}}-${{ params.n }}${{ user.email }}")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	got, problems := tpl.render(sc)
	if len(problems) > 0 || got != "ws-ana-garcia-3" {
		t.Fatalf("got %q %v", got, problems)
	}
}
