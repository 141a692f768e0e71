package gitea

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/scimbridge/scimbridge/internal/fold"
)

// Limits of Gitea v1.26's API bindings.
const (
	maxUsernameLen = 40
	maxTeamNameLen = 255
	maxFullNameLen = 100
	maxTeamDescLen = 255
)

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

func isPunct(r rune) bool { return r == '-' || r == '_' || r == '.' }

// dropped are removed rather than replaced, so "O'Brien" stays one word.
func dropped(r rune) bool { return r == '\'' || r == '`' || r == '´' || r == '’' }

// sanitizeUsername applies Gitea's username rules to s: characters in
// A-Z, a-z, 0-9, '-', '_', '.'; no leading, trailing or doubled
// punctuation; at most 40 characters; not ending like the reserved
// "*.keys", "*.gpg", "*.rss", "*.atom" and "*.png". It returns "" when
// nothing usable is left.
func sanitizeUsername(s string) string {
	var b strings.Builder
	var prev rune // last written rune, 0 at the start
	for _, r := range fold.Accents(s) {
		if dropped(r) {
			continue
		}
		if !isAlnum(r) && !isPunct(r) {
			r = '-'
		}
		if isPunct(r) && (prev == 0 || isPunct(prev)) {
			continue // no leading or doubled punctuation
		}
		b.WriteRune(r)
		prev = r
	}
	name := b.String()
	if len(name) > maxUsernameLen {
		name = name[:maxUsernameLen]
	}
	name = strings.TrimRight(name, "-_.")
	lower := strings.ToLower(name)
	for _, ext := range []string{".keys", ".gpg", ".rss", ".atom", ".png"} {
		if strings.HasSuffix(lower, ext) {
			i := len(name) - len(ext)
			name = name[:i] + "-" + name[i+1:]
			break
		}
	}
	return name
}

// username derives a new account's username from the SCIM userName, then
// the email, then the subject (see the package documentation).
func username(userName, email, subject string) string {
	local, _, _ := strings.Cut(userName, "@")
	if name := sanitizeUsername(local); name != "" {
		return name
	}
	local, _, _ = strings.Cut(email, "@")
	if name := sanitizeUsername(local); name != "" {
		return name
	}
	return "user-" + shortHash(subject)
}

// teamName derives a team's name from a group's displayName (see the
// package documentation). Reserved names are left to reservedTeamName.
func teamName(displayName string) string {
	var b strings.Builder
	dash := false // a '-' is pending for a run of other characters
	for _, r := range fold.Accents(displayName) {
		if dropped(r) {
			continue
		}
		if isAlnum(r) || r == '_' || r == '.' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true // '-' and everything else
	}
	name := strings.TrimLeft(b.String(), ".")
	name = strings.TrimRight(name, ".")
	if name == "" {
		return "group-" + shortHash(displayName)
	}
	if len(name) > maxTeamNameLen {
		suffix := "-" + shortHash(displayName)
		name = strings.TrimRight(name[:maxTeamNameLen-len(suffix)], "-.") + suffix
	}
	return name
}

// reservedTeamName reports whether Gitea keeps name for itself: the
// owners team every organization has, and "new", a page of the web UI.
func reservedTeamName(name string) bool {
	return strings.EqualFold(name, "owners") || strings.EqualFold(name, "new")
}

// shortHash is 8 hex digits of s's SHA-256.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
