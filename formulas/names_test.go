package formulas

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/coder/coder/v2/codersdk"
	"github.com/mattermost/mattermost/server/public/model"
)

// nameSamples are hand-picked edge cases plus deterministic random
// strings over an alphabet that mixes what the rules allow and refuse.
func nameSamples() []string {
	samples := []string{
		"", "a", "ab", "A", "new", "create", "New", "a-b", "a--b", "-a", "a-",
		"a_b", "a__b", "a__b-c", "a.b", "a..b", ".", "..", "-", "_a", "a_",
		"ml-alice", "ML-Alice", "alice@example.com", "ana maría", "x.git",
		"admin", "apiary", "api", "team-api", "signup2", "research",
		strings.Repeat("a", 32), strings.Repeat("a", 33), strings.Repeat("a", 64), strings.Repeat("a", 65),
	}
	alphabet := []rune("aZ09-_.@ é")
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := 1 + r.IntN(8)
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		samples = append(samples, b.String())
	}
	return samples
}

// TestCoderNameMatchesSDK checks checkCoderName against codersdk.NameValid,
// the rule coderd applies to workspace and template names.
func TestCoderNameMatchesSDK(t *testing.T) {
	for _, s := range nameSamples() {
		ours, theirs := checkCoderName(s) == nil, codersdk.NameValid(s) == nil
		if ours != theirs {
			t.Errorf("%q: checkCoderName valid=%v, codersdk.NameValid valid=%v", s, ours, theirs)
		}
	}
}

// TestMattermostNamesMatchModel checks the channel and team rules against
// the model package's validators (and the 64-character limits of the
// channel and team records).
func TestMattermostNamesMatchModel(t *testing.T) {
	for _, s := range nameSamples() {
		ours := checkMattermostChannel(s) == nil
		theirs := model.IsValidChannelIdentifier(s) && len(s) <= model.ChannelNameMaxLength
		if ours != theirs {
			t.Errorf("channel %q: ours valid=%v, model valid=%v", s, ours, theirs)
		}
		ours = checkMattermostTeam(s) == nil
		theirs = model.IsValidTeamName(s) && !model.IsReservedTeamName(s) && len(s) <= model.TeamNameMaxLength
		if ours != theirs {
			t.Errorf("team %q: ours valid=%v, model valid=%v", s, ours, theirs)
		}
	}
}

// TestGiteaNames pins Gitea's rules, which have no validator in the SDK.
func TestGiteaNames(t *testing.T) {
	for _, tc := range []struct {
		check func(string) error
		name  string
		ok    bool
	}{
		{checkGiteaRepoName, "notes", true},
		{checkGiteaRepoName, "Ana.Garcia_notes-2", true},
		{checkGiteaRepoName, ".hidden", true},
		{checkGiteaRepoName, strings.Repeat("a", 100), true},
		{checkGiteaRepoName, strings.Repeat("a", 101), false},
		{checkGiteaRepoName, "", false},
		{checkGiteaRepoName, ".", false},
		{checkGiteaRepoName, "..", false},
		{checkGiteaRepoName, "-", false},
		{checkGiteaRepoName, "a..b", false},
		{checkGiteaRepoName, "a b", false},
		{checkGiteaRepoName, "a/b", false},
		{checkGiteaRepoName, "notes.GIT", false},
		{checkGiteaRepoName, "x.wiki", false},
		{checkGiteaRepoName, "feed.rss", false},
		{checkGiteaRepoName, "feed.atom", false},
		{checkGiteaRepoName, "ana@example.com", false},
		{checkGiteaOwner, "research", true},
		{checkGiteaOwner, "r.and-d_2", true},
		{checkGiteaOwner, strings.Repeat("a", 40), true},
		{checkGiteaOwner, strings.Repeat("a", 41), false},
		{checkGiteaOwner, "-research", false},
		{checkGiteaOwner, "_research", false},
		{checkGiteaOwner, "research-", false},
		{checkGiteaOwner, "r&d", false},
		{checkGiteaOwner, "r--d", false},
		{checkGiteaOwner, "r._d", false},
		{checkGiteaTeamName, "ml", true},
		{checkGiteaTeamName, "Platform-Team.v2_x", true},
		{checkGiteaTeamName, strings.Repeat("a", 255), true},
		{checkGiteaTeamName, strings.Repeat("a", 256), false},
		{checkGiteaTeamName, "ml team", false},
		{checkGiteaTeamName, "Owners", false},
		{checkGiteaTeamName, "owners", false},
		{checkGiteaTemplate, "platform/ml-template", true},
		{checkGiteaTemplate, "platform", false},
		{checkGiteaTemplate, "platform/", false},
		{checkGiteaTemplate, "/ml", false},
		{checkGiteaTemplate, "platform/ml/x", false},
	} {
		if got := tc.check(tc.name) == nil; got != tc.ok {
			t.Errorf("%q: valid=%v, want %v", tc.name, got, tc.ok)
		}
	}
}
