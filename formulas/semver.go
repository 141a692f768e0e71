package formulas

import (
	"errors"
	"strconv"
	"strings"
)

// version is a parsed Semantic Versioning 2.0.0 version (semver.org).
type version struct {
	core [3]uint64
	pre  []string // dot-separated pre-release identifiers
}

// parseVersion parses "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]" with the
// rules of semver.org: no leading "v", no leading zeros in numbers, and
// identifiers of ASCII letters, digits and '-'.
func parseVersion(s string) (version, error) {
	var v version
	rest, build, hasBuild := strings.Cut(s, "+")
	if hasBuild {
		if err := checkIdentifiers(build, false); err != nil {
			return v, errors.New("build metadata: " + err.Error())
		}
	}
	core, pre, hasPre := strings.Cut(rest, "-")
	if hasPre {
		if err := checkIdentifiers(pre, true); err != nil {
			return v, errors.New("pre-release: " + err.Error())
		}
		v.pre = strings.Split(pre, ".")
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return v, errors.New("a version is MAJOR.MINOR.PATCH (semantic versioning), such as 1.0.0")
	}
	for i, p := range parts {
		if !isNumeric(p) {
			return v, errors.New("a version is MAJOR.MINOR.PATCH (semantic versioning), such as 1.0.0")
		}
		if len(p) > 1 && p[0] == '0' {
			return v, errors.New("a version number may not have a leading zero")
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return v, errors.New("a version number is too large")
		}
		v.core[i] = n
	}
	return v, nil
}

// checkIdentifiers checks dot-separated identifiers; numeric ones of a
// pre-release may not have leading zeros.
func checkIdentifiers(s string, pre bool) error {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return errors.New("empty identifier")
		}
		for _, r := range id {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return errors.New("identifiers contain only ASCII letters, digits and '-'")
			}
		}
		if pre && isNumeric(id) && len(id) > 1 && id[0] == '0' {
			return errors.New("a numeric identifier may not have a leading zero")
		}
	}
	return nil
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// CompareVersions orders two formula versions by semantic versioning
// precedence: it returns -1 when a comes before b, +1 when after, 0 when
// they are equal (build metadata is ignored). A version that does not
// parse comes before every valid one, and two such versions compare as
// text, so the order is total and deterministic.
func CompareVersions(a, b string) int {
	va, errA := parseVersion(a)
	vb, errB := parseVersion(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	for i := range va.core {
		if va.core[i] != vb.core[i] {
			if va.core[i] < vb.core[i] {
				return -1
			}
			return 1
		}
	}
	// A version without a pre-release comes after one with it.
	switch {
	case len(va.pre) == 0 && len(vb.pre) == 0:
		return 0
	case len(va.pre) == 0:
		return 1
	case len(vb.pre) == 0:
		return -1
	}
	for i := 0; i < len(va.pre) && i < len(vb.pre); i++ {
		if c := comparePre(va.pre[i], vb.pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(va.pre) < len(vb.pre):
		return -1
	case len(va.pre) > len(vb.pre):
		return 1
	}
	return 0
}

// comparePre orders two pre-release identifiers: numeric ones
// numerically and before alphanumeric ones, those in ASCII order.
func comparePre(a, b string) int {
	na, nb := isNumeric(a), isNumeric(b)
	switch {
	case na && nb:
		if len(a) != len(b) { // no leading zeros: longer is larger
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(a, b)
}
