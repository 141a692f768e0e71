package gitea

import (
	"regexp"
	"strings"
	"testing"
)

// Gitea v1.26's username rules: a positive and a negative pattern.
var (
	validUsername   = regexp.MustCompile(`^[\da-zA-Z][-.\w]*$`)
	invalidUsername = regexp.MustCompile(`[-._]{2,}|[-._]$`)
	validTeamName   = regexp.MustCompile(`^[\w.-]+$`)
)

func TestUsername(t *testing.T) {
	tests := []struct {
		name                     string
		userName, email, subject string
		want                     string
	}{
		{"Email", "alice@example.com", "", "s", "alice"},
		{"Plain", "bob", "", "s", "bob"},
		{"CaseKept", "Alice.Liddell@example.com", "", "s", "Alice.Liddell"},
		{"Accents", "José.Müller", "", "s", "Jose.Muller"},
		{"SpelledOut", "Søren.Æbelø", "", "s", "Soren.AEbelo"},
		{"Eszett", "straße", "", "s", "strasse"},
		{"Apostrophe", "o'brien", "", "s", "obrien"},
		{"Spaces", "Mary Ann  Smith", "", "s", "Mary-Ann-Smith"},
		{"Plus", "alice+git@example.com", "", "s", "alice-git"},
		{"DoubledPunctuation", "john.-_doe", "", "s", "john.doe"},
		{"LeadingTrailing", "._-alice-_.", "", "s", "alice"},
		{"Underscore", "first_last", "", "s", "first_last"},
		{"Long", strings.Repeat("abcdefghij", 5), "", "s", strings.Repeat("abcdefghij", 4)},
		{"LongCutAtPunctuation", strings.Repeat("a", 39) + ".b", "", "s", strings.Repeat("a", 39)},
		{"ReservedSuffix", "alice.keys", "", "s", "alice-keys"},
		{"ReservedSuffixCase", "Logo.PNG", "", "s", "Logo-PNG"},
		{"FromEmail", "山田", "yamada@example.com", "s", "yamada"},
		{"FromSubject", "山田", "", "sub-1", "user-" + shortHash("sub-1")},
		{"FromSubjectEmailUnusable", "", "太郎@example.com", "sub-2", "user-" + shortHash("sub-2")},
		{"OnlyAt", "@example.com", "carol@example.com", "s", "carol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := username(tt.userName, tt.email, tt.subject)
			if got != tt.want {
				t.Errorf("username(%q, %q, %q) = %q, want %q", tt.userName, tt.email, tt.subject, got, tt.want)
			}
			if !validUsername.MatchString(got) || invalidUsername.MatchString(got) || len(got) > maxUsernameLen {
				t.Errorf("username %q breaks gitea's rules", got)
			}
		})
	}
}

func TestTeamName(t *testing.T) {
	long := strings.Repeat("Engineering ", 30)
	tests := []struct {
		name, displayName, want string
	}{
		{"Spaces", "Platform Team", "Platform-Team"},
		{"Kept", "team_a.b-c", "team_a.b-c"},
		{"Runs", "R&D  /  Ops", "R-D-Ops"},
		{"DashesCollapse", "a - b", "a-b"},
		{"Trimmed", "  -.Dev Ops.- ", "Dev-Ops"},
		{"Accents", "Équipe Données", "Equipe-Donnees"},
		{"Apostrophe", "People's Team", "Peoples-Team"},
		{"Empty", "", "group-" + shortHash("")},
		{"NothingLeft", "開発", "group-" + shortHash("開発")},
		{"Long", long, strings.TrimRight(strings.ReplaceAll(long, " ", "-")[:246], "-") + "-" + shortHash(long)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := teamName(tt.displayName)
			if got != tt.want {
				t.Errorf("teamName(%q) = %q, want %q", tt.displayName, got, tt.want)
			}
			if !validTeamName.MatchString(got) || len(got) > maxTeamNameLen {
				t.Errorf("team name %q breaks gitea's rules", got)
			}
		})
	}

	t.Run("LongNamesDiffer", func(t *testing.T) {
		a, b := teamName(long+"EU"), teamName(long+"US")
		if a == b {
			t.Errorf("two long names map to the same team %q", a)
		}
	})
	t.Run("Reserved", func(t *testing.T) {
		for _, dn := range []string{"Owners", "owners", "OWNERS ", "new", "New"} {
			if !reservedTeamName(teamName(dn)) {
				t.Errorf("%q is not reserved", dn)
			}
		}
		if reservedTeamName(teamName("Owners Club")) {
			t.Error(`"Owners Club" is reserved`)
		}
	})
}

func TestTruncate(t *testing.T) {
	if got := truncate("héllo", 2); got != "hé" {
		t.Errorf("truncate = %q", got)
	}
	if got := truncate("abc", 5); got != "abc" {
		t.Errorf("truncate = %q", got)
	}
}

func TestGroupMark(t *testing.T) {
	if got := markedGroup(markDescription("", "g-1")); got != "g-1" {
		t.Errorf("mark of an empty description: %q", got)
	}
	desc := markDescription("Hand-made team for [ops]", "2819c223-7f76")
	if desc != "Hand-made team for [ops] [scim group 2819c223-7f76]" || markedGroup(desc) != "2819c223-7f76" {
		t.Errorf("description %q, group %q", desc, markedGroup(desc))
	}
	long := markDescription(strings.Repeat("x", 300), "g-2")
	if len(long) > maxTeamDescLen || markedGroup(long) != "g-2" {
		t.Errorf("long description: %d bytes, group %q", len(long), markedGroup(long))
	}
	for _, d := range []string{"", "Developers", "[scim group x] more", "[ops]"} {
		if g := markedGroup(d); g != "" {
			t.Errorf("markedGroup(%q) = %q", d, g)
		}
	}
}
