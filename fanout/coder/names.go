package coder

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/coder/coder/v2/codersdk"
	"github.com/scimbridge/scimbridge/internal/fold"
)

// Limits of Coder v2.36's validation (codersdk/name.go).
const (
	maxUsernameLen    = 32
	maxGroupNameLen   = 255
	maxDisplayNameLen = 64  // codersdk.DisplayNameValid, in bytes
	maxRealNameLen    = 128 // codersdk.UserRealNameValid, in bytes
)

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// cleanUsername applies the cleaning of codersdk.UsernameFrom to s (keep
// A-Z, a-z, 0-9 and '-', drop the rest), with accents folded first, and
// mends what would still fail codersdk.NameValid: doubled, leading and
// trailing hyphens, and length. It returns "" when the result is not a
// valid name.
func cleanUsername(s string) string {
	var b strings.Builder
	for _, r := range fold.Accents(s) {
		switch {
		case isAlnum(r):
			b.WriteRune(r)
		case r == '-' && b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteRune(r)
		}
	}
	name := b.String()
	if len(name) > maxUsernameLen {
		name = name[:maxUsernameLen]
	}
	name = strings.TrimRight(name, "-")
	if codersdk.NameValid(name) != nil {
		return ""
	}
	return name
}

// localPart is s before its last '@' (s itself without one).
func localPart(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i]
	}
	return s
}

// Username derives a new account's username from the SCIM userName, then
// the email (see the package documentation): the userName itself when
// Coder accepts it, else its local part cleaned, else the email's local
// part cleaned, else "user-" and 8 hex digits of the email's SHA-256.
// The result always passes codersdk.NameValid.
func Username(userName, email string) string {
	if codersdk.NameValid(userName) == nil {
		return userName
	}
	if name := cleanUsername(localPart(userName)); name != "" {
		return name
	}
	if name := cleanUsername(localPart(email)); name != "" {
		return name
	}
	return "user-" + shortHash(strings.ToLower(email), 8)
}

// alternateUsername is the username tried when name belongs to someone
// else: name cut to 27 characters, '-' and 4 hex digits of the email's
// SHA-256, so that the same person always gets the same alternate.
func alternateUsername(name, email string) string {
	suffix := "-" + shortHash(strings.ToLower(email), 4)
	if len(name) > maxUsernameLen-len(suffix) {
		name = strings.TrimRight(name[:maxUsernameLen-len(suffix)], "-")
	}
	return name + suffix
}

// GroupName derives a Coder group's name from a SCIM group's displayName
// (see the package documentation). The result always passes
// codersdk.GroupNameValid.
func GroupName(displayName string) string {
	var b strings.Builder
	dash := false // a '-' is pending for a run of other characters
	for _, r := range strings.ToLower(fold.Accents(displayName)) {
		if isAlnum(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	name := b.String()
	switch {
	case name == "":
		return "group-" + shortHash(displayName, 8)
	case len(name) > maxGroupNameLen:
		suffix := "-" + shortHash(displayName, 8)
		name = strings.TrimRight(name[:maxGroupNameLen-len(suffix)], "-") + suffix
	case name == "new" || name == "create":
		name += "-group"
	}
	return name
}

// groupDisplayName is the display name Coder keeps for a group: s with
// runs of white space made one space, trimmed and cut to 64 bytes, which
// passes codersdk.DisplayNameValid.
func groupDisplayName(s string) string {
	return truncateBytes(strings.Join(strings.Fields(s), " "), maxDisplayNameLen)
}

// realName is the name a new account gets: displayName, else the given
// and family names, cut to Coder's 128 bytes.
func realName(displayName, given, family string) string {
	n := strings.Join(strings.Fields(displayName), " ")
	if n == "" {
		n = strings.Join(strings.Fields(given+" "+family), " ")
	}
	return truncateBytes(n, maxRealNameLen)
}

// truncateBytes cuts s to at most n bytes without splitting a character,
// and trims white space from the end.
func truncateBytes(s string, n int) string {
	if len(s) > n {
		s = s[:n]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return strings.TrimSpace(s)
}

// shortHash is n hex digits of s's SHA-256.
func shortHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}
