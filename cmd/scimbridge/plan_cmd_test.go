package main

import (
	"strings"
	"testing"
)

func TestPlanCommand(t *testing.T) {
	s := startFormulaServer(t, true)
	code, out, errOut := s.cli(t, "", "plan", "--group", "research")
	if code != 0 || !strings.Contains(out, "ml-alice") || !strings.Contains(out, "ml-bob") || !strings.Contains(out, "Plan for 2 users: 2 to create") {
		t.Fatalf("plan --group: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = s.cli(t, "", "plan", "--user", "bob")
	if code != 0 || strings.Contains(out, "ml-alice") || !strings.Contains(out, "Plan for 1 users: 1 to create") {
		t.Fatalf("plan --user: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = s.cli(t, "", "plan", "--user", "nobody"); code != 1 || !strings.Contains(errOut, "no user nobody") {
		t.Fatalf("plan of an unknown user: exit %d, %s", code, errOut)
	}
	for _, args := range [][]string{{"plan"}, {"plan", "--user", "bob", "--group", "research"}, {"plan", "--group", "research", "--join", "x"},
		{"plan", "--user", "bob", "--join", "a", "--leave", "b"}, {"plan", "bob"}} {
		if code, _, _ := s.cli(t, "", args...); code != 2 {
			t.Errorf("scimbridge %s: exit %d, want 2 (usage)", strings.Join(args, " "), code)
		}
	}
}
