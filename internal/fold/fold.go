// Package fold turns names into ASCII letters the way every connector and
// the formulas' slug filter need it: accents removed ("é" gives "e") and
// the letters without a decomposition spelled out ("ß" gives "ss").
package fold

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// spelledOut are letters that have no decomposition to strip an accent
// from, written in ASCII.
var spelledOut = strings.NewReplacer(
	"Æ", "AE", "æ", "ae", "Ø", "O", "ø", "o", "ß", "ss", "Ł", "L", "ł", "l",
	"Œ", "OE", "œ", "oe", "Đ", "D", "đ", "d", "Þ", "Th", "þ", "th",
)

// Accents removes accents ("é" to "e") and spells out æ, ø, ß, ł, œ, đ
// and þ (and their capitals) in ASCII; other characters are left for the
// caller's rules.
func Accents(s string) string {
	s = spelledOut.Replace(s)
	t := transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		return s
	}
	return out
}
