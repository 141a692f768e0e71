package mattermost

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/scimbridge/scimbridge/internal/fold"
)

// Username limits: Mattermost's server accepts 1 to 64 characters
// (server/public/model/user.go IsValidUsername), its web app 3 to 22,
// starting with a letter, and that is what a person can keep when they edit
// their profile.
const (
	minUsernameLen = 3
	maxUsernameLen = 22
)

// Channel limits (server/public/model/channel.go).
const (
	maxChannelNameLen    = model.ChannelNameMaxLength       // 64 bytes
	maxChannelDisplayLen = model.ChannelDisplayNameMaxRunes // 64 runes
	maxChannelPurposeLen = model.ChannelPurposeMaxRunes     // 250 runes
	maxUserNameRunes     = model.UserFirstNameMaxRunes      // first and last names: 64 runes
)

// reservedUsernames are refused by the server (server/public/model/user.go
// restrictedUsernames) or by the web app, because they are mention
// keywords.
var reservedUsernames = map[string]bool{
	"all": true, "channel": true, "here": true, "matterbot": true, "system": true, "valet": true,
}

// gmChannelName is the form of a group message channel's name, which
// Mattermost refuses for other channels (server/public/model/channel.go
// gmNameRegex).
var gmChannelName = regexp.MustCompile(`^[a-f0-9]{40}$`)

func isLowerAlnum(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' }

// dropped are removed rather than replaced, so "O'Brien" stays one word.
func dropped(r rune) bool { return r == '\'' || r == '`' || r == '´' || r == '’' }

// slug lowercases s, removes accents and apostrophes, replaces every
// character that is neither a lowercase letter, a digit nor in punct by
// '-', keeps the first of each run of '-' and punct, and drops them at
// both ends.
func slug(s, punct string) string {
	isPunct := func(r rune) bool { return r == '-' || strings.ContainsRune(punct, r) }
	var b strings.Builder
	var prev rune
	for _, r := range strings.ToLower(fold.Accents(s)) {
		if dropped(r) {
			continue
		}
		if !isLowerAlnum(r) && !isPunct(r) {
			r = '-'
		}
		if isPunct(r) && (prev == 0 || isPunct(prev)) {
			continue
		}
		b.WriteRune(r)
		prev = r
	}
	return strings.TrimRight(b.String(), "-"+punct)
}

// shortHash is 8 hex digits of s's SHA-256.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// sanitizeUsername applies the username rules of the package
// documentation to one candidate, or returns "" when it yields no usable
// name.
func sanitizeUsername(s string) string {
	local, _, _ := strings.Cut(s, "@")
	name := slug(local, "._")
	if name == "" {
		return ""
	}
	if name[0] < 'a' || name[0] > 'z' {
		name = "u" + name
	}
	if len(name) > maxUsernameLen {
		name = strings.TrimRight(name[:maxUsernameLen], "-._")
	}
	if len(name) < minUsernameLen || reservedUsernames[name] || !model.IsValidUsername(name) {
		return ""
	}
	return name
}

// username derives a new account's username from the SCIM userName, then
// the email, then authData (see the package documentation).
func username(userName, email, authData string) string {
	if n := sanitizeUsername(userName); n != "" {
		return n
	}
	if n := sanitizeUsername(email); n != "" {
		return n
	}
	return "user-" + shortHash(authData)
}

// channelName derives a group channel's name from the group's displayName
// (see the package documentation).
func channelName(displayName string) string {
	name := slug(displayName, "_")
	switch {
	case name == "":
		return "group-" + shortHash(displayName)
	case len(name) > maxChannelNameLen:
		suffix := "-" + shortHash(displayName)
		return strings.TrimRight(name[:maxChannelNameLen-len(suffix)], "-_") + suffix
	case gmChannelName.MatchString(name):
		return name + "-group"
	}
	return name
}

// channelDisplayName is the group's displayName as a channel's display
// name, or name when it has none.
func channelDisplayName(displayName, name string) string {
	d := truncateRunes(strings.Join(strings.Fields(displayName), " "), maxChannelDisplayLen)
	if d == "" {
		return name
	}
	return d
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return strings.TrimSpace(string([]rune(s)[:n]))
}
