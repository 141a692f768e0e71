package coder

import (
	"strings"
	"testing"

	"github.com/coder/coder/v2/codersdk"
)

func TestUsername(t *testing.T) {
	long := strings.Repeat("abcdefghij", 4) // 40 characters
	hash := "user-" + shortHash("new@example.com", 8)
	for _, tc := range []struct{ name, userName, email, want string }{
		{"ValidKept", "alice", "x@example.com", "alice"},
		{"CaseKept", "Alice-Smith", "x@example.com", "Alice-Smith"},
		{"EmailLocalPart", "alice@example.com", "alice@example.com", "alice"},
		{"DotsDropped", "alice.smith@example.com", "", "alicesmith"},
		{"UnderscoresAndApostrophes", "o'brien_k", "", "obrienk"},
		{"Accents", "José García", "", "JoseGarcia"},
		{"SpelledOut", "Søren Ærø-Strauß", "", "SorenAEro-Strauss"},
		{"LastAt", "a@b@example.com", "", "ab"},
		{"HyphensMended", "--a---b--", "", "a-b"},
		{"Cut", long + "@example.com", "", long[:32]},
		{"CutEndsWithoutHyphen", strings.Repeat("a", 31) + "-bc", "", strings.Repeat("a", 31)},
		{"FallsBackToEmail", "李小龍", "lee@example.com", "lee"},
		{"ReservedFallsBackToEmail", "new", "ann@example.com", "ann"},
		{"FallsBackToHash", "new", "new@example.com", hash},
		{"EmptyFallsBackToHash", "", "新@example.com", "user-" + shortHash("新@example.com", 8)},
		{"HashIgnoresEmailCase", "", "新@Example.com", "user-" + shortHash("新@example.com", 8)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Username(tc.userName, tc.email)
			if got != tc.want {
				t.Errorf("Username(%q, %q) = %q, want %q", tc.userName, tc.email, got, tc.want)
			}
			if err := codersdk.NameValid(got); err != nil {
				t.Errorf("Username(%q, %q) = %q, which coder refuses: %v", tc.userName, tc.email, got, err)
			}
		})
	}
}

func TestUsernameAlwaysValid(t *testing.T) {
	inputs := []string{"", "-", "@", "a", "new", "create", "Ünïcödé", "a b c", "x--y", "user@", "@example.com",
		strings.Repeat("-a", 40), strings.Repeat("é", 50), "ABC_def.ghi@example.com", "\x00\xff"}
	for _, u := range inputs {
		for _, e := range inputs {
			if got := Username(u, e); codersdk.NameValid(got) != nil {
				t.Errorf("Username(%q, %q) = %q, which coder refuses", u, e, got)
			}
			if got := alternateUsername(Username(u, e), e); codersdk.NameValid(got) != nil {
				t.Errorf("alternateUsername of (%q, %q) = %q, which coder refuses", u, e, got)
			}
		}
	}
}

func TestAlternateUsername(t *testing.T) {
	suffix := shortHash("alice@b.example", 4)
	if got, want := alternateUsername("alice", "Alice@B.example"), "alice-"+suffix; got != want {
		t.Errorf("alternateUsername = %q, want %q", got, want)
	}
	long := strings.Repeat("a", 26) + "-bcdef"
	if got, want := alternateUsername(long, "alice@b.example"), strings.Repeat("a", 26)+"-"+suffix; got != want {
		t.Errorf("alternateUsername(long) = %q, want %q", got, want)
	}
	if alternateUsername("alice", "alice@a.example") == alternateUsername("alice", "alice@b.example") {
		t.Error("two emails give the same alternate username")
	}
}

func TestGroupName(t *testing.T) {
	long := strings.Repeat("abcdefghij", 30)
	for _, tc := range []struct{ name, in, want string }{
		{"Spaces", "Platform Team", "platform-team"},
		{"Runs", "  Dev / Ops  ", "dev-ops"},
		{"Accents", "Équipe Données", "equipe-donnees"},
		{"Empty", "###", "group-" + shortHash("###", 8)},
		{"Reserved", "New", "new-group"},
		{"ReservedCreate", "create", "create-group"},
		{"Long", long, long[:255-9] + "-" + shortHash(long, 8)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := GroupName(tc.in)
			if got != tc.want {
				t.Errorf("GroupName(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err := codersdk.GroupNameValid(got); err != nil {
				t.Errorf("GroupName(%q) = %q, which coder refuses: %v", tc.in, got, err)
			}
		})
	}
}

func TestGroupDisplayName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Platform Team", "Platform Team"},
		{"  Platform \n\t Team ", "Platform Team"},
		{strings.Repeat("é", 40), strings.Repeat("é", 32)},
		{strings.Repeat("a", 63) + " b", strings.Repeat("a", 63)},
	} {
		got := groupDisplayName(tc.in)
		if got != tc.want {
			t.Errorf("groupDisplayName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if err := codersdk.DisplayNameValid(got); err != nil {
			t.Errorf("groupDisplayName(%q) = %q, which coder refuses: %v", tc.in, got, err)
		}
	}
}

func TestRealName(t *testing.T) {
	for _, tc := range []struct{ display, given, family, want string }{
		{"Ada Lovelace", "x", "y", "Ada Lovelace"},
		{" ", "Ada", "Lovelace", "Ada Lovelace"},
		{"", "", "", ""},
		{strings.Repeat("ü", 70), "", "", strings.Repeat("ü", 64)},
	} {
		got := realName(tc.display, tc.given, tc.family)
		if got != tc.want {
			t.Errorf("realName(%q, %q, %q) = %q, want %q", tc.display, tc.given, tc.family, got, tc.want)
		}
		if err := codersdk.UserRealNameValid(got); err != nil {
			t.Errorf("realName = %q, which coder refuses: %v", got, err)
		}
	}
}
