package mattermost

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// webAppUsername is the rule Mattermost's web app holds usernames to:
// a letter, then 2 to 21 lowercase letters, digits, '.', '-' or '_'.
var webAppUsername = regexp.MustCompile(`^[a-z][a-z0-9._-]{2,21}$`)

func TestUsername(t *testing.T) {
	tests := []struct {
		name                      string
		userName, email, authData string
		want                      string
	}{
		{"Email", "alice@example.com", "", "s", "alice"},
		{"Plain", "bob", "", "s", "bob"},
		{"Lowercased", "Alice.Liddell@example.com", "", "s", "alice.liddell"},
		{"Accents", "José.Müller", "", "s", "jose.muller"},
		{"SpelledOut", "Søren.Æbelø", "", "s", "soren.aebelo"},
		{"Eszett", "straße", "", "s", "strasse"},
		{"Apostrophe", "o'brien", "", "s", "obrien"},
		{"Spaces", "Mary Ann  Smith", "", "s", "mary-ann-smith"},
		{"Plus", "alice+chat@example.com", "", "s", "alice-chat"},
		{"DoubledPunctuation", "john.-_doe", "", "s", "john.doe"},
		{"LeadingTrailing", "._-alice-_.", "", "s", "alice"},
		{"Underscore", "first_last", "", "s", "first_last"},
		{"LeadingDigit", "1password", "", "s", "u1password"},
		{"Long", "abcdefghij.klmnopqrst.uvwxyz", "", "s", "abcdefghij.klmnopqrst"},
		{"LongCutAtPunctuation", strings.Repeat("a", 21) + ".b", "", "s", strings.Repeat("a", 21)},
		{"TooShortFromEmail", "al", "alfred@example.com", "s", "alfred"},
		{"ReservedFromEmail", "channel", "chan.nel@example.com", "s", "chan.nel"},
		{"ReservedHere", "here@example.com", "", "sub-1", "user-" + shortHash("sub-1")},
		{"FromEmail", "山田", "yamada@example.com", "s", "yamada"},
		{"FromAuthData", "山田", "", "sub-1", "user-" + shortHash("sub-1")},
		{"FromAuthDataEmailUnusable", "", "太郎@example.com", "sub-2", "user-" + shortHash("sub-2")},
		{"OnlyAt", "@example.com", "carol@example.com", "s", "carol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := username(tt.userName, tt.email, tt.authData)
			if got != tt.want {
				t.Errorf("username(%q, %q, %q) = %q, want %q", tt.userName, tt.email, tt.authData, got, tt.want)
			}
			if !model.IsValidUsername(got) || !webAppUsername.MatchString(got) || reservedUsernames[got] {
				t.Errorf("username %q breaks mattermost's rules", got)
			}
		})
	}
}

func TestChannelName(t *testing.T) {
	long := strings.Repeat("Engineering ", 10)
	tests := []struct {
		name, displayName, want string
	}{
		{"Spaces", "Platform Team", "platform-team"},
		{"Kept", "team_a-b", "team_a-b"},
		{"Dots", "v1.2 Release", "v1-2-release"},
		{"Runs", "R&D  /  Ops", "r-d-ops"},
		{"UnderscoreRuns", "a__b", "a_b"},
		{"Trimmed", "  -_Dev Ops_- ", "dev-ops"},
		{"Accents", "Équipe Données", "equipe-donnees"},
		{"Apostrophe", "People's Team", "peoples-team"},
		{"Digits", "2026 Interns", "2026-interns"},
		{"Empty", "", "group-" + shortHash("")},
		{"NothingLeft", "開発", "group-" + shortHash("開発")},
		{"Long", long, strings.TrimRight(strings.ReplaceAll(strings.ToLower(long), " ", "-")[:55], "-") + "-" + shortHash(long)},
		{"LooksLikeGroupMessage", strings.Repeat("ab", 20), strings.Repeat("ab", 20) + "-group"},
		{"TownSquare", "Town Square", "town-square"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := channelName(tt.displayName)
			if got != tt.want {
				t.Errorf("channelName(%q) = %q, want %q", tt.displayName, got, tt.want)
			}
			ch := &model.Channel{Name: got, DisplayName: "x", Type: model.ChannelTypePrivate}
			ch.PreSave()
			if err := ch.IsValid(); err != nil {
				t.Errorf("channel name %q breaks mattermost's rules: %v", got, err)
			}
		})
	}
}

func TestChannelDisplayName(t *testing.T) {
	if got := channelDisplayName("  Platform   Team ", "platform-team"); got != "Platform Team" {
		t.Errorf("got %q", got)
	}
	if got := channelDisplayName(" ", "group-1"); got != "group-1" {
		t.Errorf("empty display name gave %q", got)
	}
	long := strings.Repeat("é", 70)
	if got := channelDisplayName(long, "x"); got != strings.Repeat("é", 64) {
		t.Errorf("long display name gave %d runes", len([]rune(got)))
	}
}

func TestGroupMark(t *testing.T) {
	id := "2819c223-7f76-453a-919d-413861904646"
	for _, purpose := range []string{"", "Our team", strings.Repeat("p", 300)} {
		got := markPurpose(purpose, id)
		if markedGroup(got) != id {
			t.Errorf("markPurpose(%.10q...) = %q: mark not found", purpose, got)
		}
		if n := len([]rune(got)); n > maxChannelPurposeLen {
			t.Errorf("markPurpose gave %d runes, over mattermost's %d", n, maxChannelPurposeLen)
		}
	}
	if got := markedGroup("no mark here"); got != "" {
		t.Errorf("markedGroup of an unmarked purpose = %q", got)
	}
}
