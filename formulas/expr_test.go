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

func TestTrunc(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"ana-maria", 4, "ana"},
		{"ana-maria", 3, "ana"},
		{"ana-maria", 9, "ana-maria"},
		{"ana-maria", 20, "ana-maria"},
		{"a.b_c-d", 6, "a.b_c"},
		{"--", 1, ""},
		{"Łukasz", 2, "Łu"}, // characters, not bytes
		{"", 5, ""},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	for _, bad := range []string{"trunc", "trunc 0", "trunc 1001", "trunc x", "trunc 3 4", "lower 3"} {
		if _, problem := parseFilter(bad); problem == "" {
			t.Errorf("parseFilter(%q) accepted it", bad)
		}
	}
}

func TestRenderChain(t *testing.T) {
	sc := scope{subject: Subject{User: UserView{UserName: "Ana.Garcia@Example.com"}}, params: map[string]any{"n": int64(3)}}
	tpl, problems := parseTemplate("ws-${{user.userName|local|slug}}-${{ params.n }}${{ user.email }}-${{ user.userName | local | slug | trunc 4 }}")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	got, problems := tpl.render(sc)
	if len(problems) > 0 || got != "ws-ana-garcia-3-ana" {
		t.Fatalf("got %q %v", got, problems)
	}
}
