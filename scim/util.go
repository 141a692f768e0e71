package scim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// etag renders a store version as a weak entity tag (RFC 7232 §2.3), the
// form SCIM uses for meta.version (RFC 7644 §3.14).
func etag(v uint64) string { return `W/"` + strconv.FormatUint(v, 10) + `"` }

// parseETag reads `W/"3"` or `"3"` back into 3.
func parseETag(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	s = strings.TrimPrefix(s, "w/")
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[1:len(s)-1], 10, 64)
	return v, err == nil && v > 0
}

// etagMatches reports whether an If-None-Match / If-Match header value
// (a list of tags, or *) names version v.
func etagMatches(header string, v uint64) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if tv, ok := parseETag(t); ok && tv == v {
			return true
		}
	}
	return false
}

// ifMatch reads the If-Match header: 0 when absent or "*", else the
// version the client read. A header that names no version this server
// could have issued can only fail the precondition.
func ifMatch(r *http.Request) (uint64, error) {
	hv := strings.TrimSpace(r.Header.Get("If-Match"))
	if hv == "" || hv == "*" {
		return 0, nil
	}
	if v, ok := parseETag(strings.Split(hv, ",")[0]); ok {
		return v, nil
	}
	return 0, scimErr(http.StatusPreconditionFailed, "", "If-Match %q does not name a version of this resource", hv)
}

func quote(s string) string { return strconv.Quote(s) }

func itoa(n int) string { return strconv.Itoa(n) }

func asErr(err error, target any) bool { return errors.As(err, target) }

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
