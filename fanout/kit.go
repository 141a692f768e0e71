package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// This file holds what every connector needs in the same way: its
// service's URL, its token from the environment or a file, the wait a 429
// or 503 asks for, and a SCIM attribute read by a configured path.

// ParseServiceURL checks a service's configured base URL: absolute http
// or https, without credentials, query or fragment. It returns the URL
// without trailing slashes. Errors start with service, the connector's
// name, and never show a password.
func ParseServiceURL(service, raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("%s: url is required", service)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: url: %w", service, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: url %q: want an absolute http or https url", service, u.Redacted())
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s: url %q: want no credentials, query or fragment", service, u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// LoadToken returns a connector's token: from the environment variable
// env (read through getenv; nil means os.Getenv) or from tokenFile, which
// must not both be set. Surrounding white space is ignored. Errors start
// with service, the connector's name.
func LoadToken(service, env, tokenFile string, getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	fromEnv := strings.TrimSpace(getenv(env))
	if tokenFile == "" {
		if fromEnv == "" {
			return "", fmt.Errorf("%s: no access token: set %s or tokenFile", service, env)
		}
		return fromEnv, nil
	}
	if fromEnv != "" {
		return "", fmt.Errorf("%s: both %s and tokenFile are set; keep one", service, env)
	}
	data, err := os.ReadFile(tokenFile)
	if err != nil {
		return "", fmt.Errorf("%s: read tokenFile: %w", service, err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("%s: tokenFile %s is empty", service, tokenFile)
	}
	return token, nil
}

// DefaultRetryAfter is the wait after a 429 or 503 without a usable
// Retry-After header.
const DefaultRetryAfter = 30 * time.Second

// ParseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3: seconds or
// an HTTP date) as a wait of at least a second from now; an empty or
// unreadable value is DefaultRetryAfter.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultRetryAfter
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 {
			return time.Second
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d >= time.Second {
			return d.Round(time.Second)
		}
		return time.Second
	}
	return DefaultRetryAfter
}

// ParseAttributePath splits a SCIM attribute path into the keys to follow
// through the SCIM document: "name.givenName" gives [name givenName], and
// "urn:...:2.0:User:employeeNumber" gives [urn:...:2.0:User
// employeeNumber] (an extension's URN ends at its last ':'). Filters
// ("emails[type eq \"work\"]") are refused. "" gives nil.
func ParseAttributePath(attr string) ([]string, error) {
	attr = strings.TrimSpace(attr)
	if attr == "" {
		return nil, nil
	}
	if strings.ContainsAny(attr, "[] \"") {
		return nil, fmt.Errorf("%q: want an attribute name or a dotted path, without filters", attr)
	}
	var path []string
	rest := attr
	if len(attr) > 4 && strings.EqualFold(attr[:4], "urn:") {
		i := strings.LastIndexByte(attr, ':')
		path = append(path, attr[:i])
		rest = attr[i+1:]
	}
	for part := range strings.SplitSeq(rest, ".") {
		if part == "" {
			return nil, fmt.Errorf("%q: empty name in the path", attr)
		}
		path = append(path, part)
	}
	return path, nil
}

// ErrNotString is an attribute that holds something other than a string
// or a number.
var ErrNotString = errors.New("not a string")

// LookupAttribute follows path through a SCIM document decoded from
// JSON, matching names case-insensitively as SCIM does, and returns the
// value as text (a whole number without a fraction). A missing attribute
// gives ""; an object or a list gives ErrNotString.
func LookupAttribute(doc map[string]any, path []string) (string, error) {
	var cur any = doc
	for _, key := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", nil
		}
		v, ok := m[key]
		if !ok {
			for k, kv := range m {
				if strings.EqualFold(k, key) {
					v, ok = kv, true
					break
				}
			}
		}
		if !ok || v == nil {
			return "", nil
		}
		cur = v
	}
	switch v := cur.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), nil
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	default:
		return "", fmt.Errorf("%w but %T", ErrNotString, cur)
	}
}

// ClassifyStatus applies the connectors' policy to err, an answer with
// HTTP status outside 2xx: 429 and 503 ask for a retry after retryAfter
// (a Retry-After value, see ParseRetryAfter); other 5xx answers and 408
// are retried; any other answer is terminal (retrying cannot change it).
func ClassifyStatus(err error, status int, retryAfter string) error {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return RetryAfter(err, ParseRetryAfter(retryAfter, time.Now()))
	case status >= 500, status == http.StatusRequestTimeout:
		return err
	default:
		return Terminal(err)
	}
}

// ClassifyNoAnswer applies the connectors' policy to err, a request that
// got no answer: a cancellation, a deadline, a URL or network error is
// retried; anything else (a request that could not even be built) is
// terminal, since it would fail again.
func ClassifyNoAnswer(err error) error {
	var uerr *url.Error
	var nerr net.Error
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &uerr) || errors.As(err, &nerr) {
		return err
	}
	return Terminal(err)
}
