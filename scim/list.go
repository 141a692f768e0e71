package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	fp "github.com/scim2/filter-parser/v2"

	"github.com/elimity-com/scim/schema"

	"github.com/scimbridge/scimbridge/scim/filter"
)

// listQuery is a parsed list or .search request (RFC 7644 §3.4.2, §3.4.3).
type listQuery struct {
	filter     string
	expr       fp.Expression
	sortBy     string
	descending bool
	startIndex int // 1-based
	count      int // -1: not given
	proj       projection
}

// listResult is a page of documents ready to render.
type listResult struct {
	total int
	docs  []map[string]any
}

func listQueryFromURL(v url.Values) (listQuery, error) {
	q := listQuery{filter: v.Get("filter"), sortBy: v.Get("sortBy"), startIndex: 1, count: -1}
	if err := q.setOrder(v.Get("sortOrder")); err != nil {
		return q, err
	}
	if s := v.Get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, errInvalidValue("startIndex must be an integer")
		}
		q.startIndex = n
	}
	if s := v.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, errInvalidValue("count must be an integer")
		}
		q.count = n
	}
	p, err := projectionFromURL(v)
	if err != nil {
		return q, err
	}
	q.proj = p
	return q, q.normalise()
}

func listQueryFromSearch(body []byte) (listQuery, error) {
	var req struct {
		Schemas            []string `json:"schemas"`
		Attributes         []string `json:"attributes"`
		ExcludedAttributes []string `json:"excludedAttributes"`
		Filter             string   `json:"filter"`
		SortBy             string   `json:"sortBy"`
		SortOrder          string   `json:"sortOrder"`
		StartIndex         *int     `json:"startIndex"`
		Count              *int     `json:"count"`
	}
	if len(body) == 0 {
		return listQuery{}, errInvalidSyntax("a SearchRequest body is required")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return listQuery{}, errInvalidSyntax("the SearchRequest is malformed: %s", jsonErrDetail(err))
	}
	if len(req.Schemas) != 1 || req.Schemas[0] != schemaSearchReq {
		return listQuery{}, errInvalidSyntax("schemas must be [%q]", schemaSearchReq)
	}
	q := listQuery{filter: req.Filter, sortBy: req.SortBy, startIndex: 1, count: -1}
	if err := q.setOrder(req.SortOrder); err != nil {
		return q, err
	}
	if req.StartIndex != nil {
		q.startIndex = *req.StartIndex
	}
	if req.Count != nil {
		q.count = *req.Count
	}
	p, err := newProjection(req.Attributes, req.ExcludedAttributes)
	if err != nil {
		return q, err
	}
	q.proj = p
	return q, q.normalise()
}

func (q *listQuery) setOrder(s string) error {
	switch strings.ToLower(s) {
	case "", "ascending":
	case "descending":
		q.descending = true
	default:
		return errInvalidValue("sortOrder must be ascending or descending")
	}
	return nil
}

func (q *listQuery) normalise() error {
	// RFC 7644 §3.4.2.4: a startIndex below 1 is interpreted as 1, a
	// negative count as 0.
	if q.startIndex < 1 {
		q.startIndex = 1
	}
	if q.count < -1 {
		q.count = 0
	}
	if strings.TrimSpace(q.filter) != "" {
		e, err := filter.Parse(q.filter)
		if err != nil {
			return errInvalidFilter("%s", filterDetail(err))
		}
		q.expr = e
	}
	return nil
}

func filterDetail(err error) string {
	var fe *filter.Error
	if asErr(err, &fe) {
		return fe.Detail
	}
	return "the filter cannot be parsed"
}

// list answers GET /Users, GET /Groups and their /.search.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, rh resourceHandler, q listQuery) {
	sc := rh.schemaOf()
	if q.expr != nil {
		if err := sc.Validate(q.expr); err != nil {
			writeError(w, errInvalidFilter("%s", filterDetail(err)))
			return
		}
	}
	if q.sortBy != "" {
		if _, ok := lookupAttr(sc, q.sortBy); !ok {
			writeError(w, errInvalidValue("sortBy names an unknown attribute %q", q.sortBy))
			return
		}
	}
	if q.count < 0 || q.count > h.cfg.MaxResults {
		q.count = h.cfg.MaxResults
	}
	res, err := rh.query(r.Context(), r, q)
	if err != nil {
		writeError(w, h.fail(r.Context(), strings.ToLower(rh.name())+"s", err))
		return
	}
	resources := make([]any, 0, len(res.docs))
	for _, d := range res.docs {
		d = q.proj.apply(d, sc)
		d["schemas"] = schemasOf(rh.name(), d)
		resources = append(resources, d)
	}
	out := map[string]any{
		"schemas":      []string{schemaListResp},
		"totalResults": res.total,
		"itemsPerPage": len(resources),
		"startIndex":   q.startIndex,
		"Resources":    resources,
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeError(w, h.fail(r.Context(), "list", err))
		return
	}
	_, _ = w.Write(b)
}

func schemasOf(rt string, doc map[string]any) []string {
	if rt == "Group" {
		return []string{SchemaGroup}
	}
	if _, ok := doc[SchemaEnterprise]; ok {
		return []string{SchemaUser, SchemaEnterprise}
	}
	return []string{SchemaUser}
}

// page sorts (when asked) and cuts the matching documents.
func page(q listQuery, sc filter.Schema, docs []map[string]any) listResult {
	if q.sortBy != "" {
		sortDocs(sc, docs, q.sortBy, q.descending)
	}
	total := len(docs)
	start := q.startIndex - 1
	if start > total {
		start = total
	}
	end := start + q.count
	if end > total {
		end = total
	}
	return listResult{total: total, docs: docs[start:end]}
}

// sortDocs orders docs by the value at path (RFC 7644 §3.4.2.3): for a
// multi-valued attribute the primary (or first) value; strings compare
// per caseExact; missing values sort last in ascending order.
func sortDocs(sc filter.Schema, docs []map[string]any, path string, desc bool) {
	attr, _ := lookupAttr(sc, path)
	caseExact := attr.CaseExact()
	keys := make([]any, len(docs))
	for i, d := range docs {
		keys[i] = sortKey(valueAt(d, path), caseExact)
	}
	idx := make([]int, len(docs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := keys[idx[a]], keys[idx[b]]
		if ka == nil || kb == nil {
			if ka == nil && kb == nil {
				return false
			}
			return kb == nil // missing last
		}
		c := compareKeys(ka, kb)
		if desc {
			return c > 0
		}
		return c < 0
	})
	sorted := make([]map[string]any, len(docs))
	for i, j := range idx {
		sorted[i] = docs[j]
	}
	copy(docs, sorted)
}

func sortKey(v any, caseExact bool) any {
	if list, ok := v.([]any); ok {
		var first any
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if p, _ := m["primary"].(bool); p {
					return sortKey(m["value"], caseExact)
				}
				if first == nil {
					first = m["value"]
				}
			} else if first == nil {
				first = e
			}
		}
		return sortKey(first, caseExact)
	}
	switch x := v.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil && len(x) >= 20 {
			return t
		}
		if !caseExact {
			return strings.ToLower(x)
		}
		return x
	case json.Number:
		f, _ := x.Float64()
		return f
	case float64, bool:
		return x
	}
	return nil
}

func compareKeys(a, b any) int {
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	}
	// Mixed types: order by type name so the sort stays total.
	return strings.Compare(typeName(a), typeName(b))
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "s"
	case float64:
		return "n"
	case time.Time:
		return "t"
	case bool:
		return "b"
	}
	return "z"
}

// lookupAttr finds the schema attribute named by a path such as
// "userName", "name.givenName", "meta.lastModified" or a URN-qualified
// name; for a sub-attribute path it returns the sub-attribute.
func lookupAttr(sc filter.Schema, path string) (schema.CoreAttribute, bool) {
	s, rest := splitURN(sc, path)
	parts := strings.SplitN(rest, ".", 2)
	for _, a := range s.Attributes {
		if !strings.EqualFold(a.Name(), parts[0]) {
			continue
		}
		if len(parts) == 1 {
			return a, true
		}
		for _, sa := range a.SubAttributes() {
			if strings.EqualFold(sa.Name(), parts[1]) {
				return sa, true
			}
		}
		return schema.CoreAttribute{}, false
	}
	return schema.CoreAttribute{}, false
}

// splitURN picks the schema a fully qualified path belongs to and returns
// the path without the URN.
func splitURN(sc filter.Schema, path string) (schema.Schema, string) {
	for _, e := range sc.Extensions {
		if len(path) > len(e.ID) && strings.EqualFold(path[:len(e.ID)], e.ID) && path[len(e.ID)] == ':' {
			return e, path[len(e.ID)+1:]
		}
	}
	id := sc.Core.ID
	if len(path) > len(id) && strings.EqualFold(path[:len(id)], id) && path[len(id)] == ':' {
		return sc.Core, path[len(id)+1:]
	}
	return sc.Core, path
}

// valueAt reads a (possibly URN-qualified, possibly dotted) path from a
// document, matching names case-insensitively. For a multi-valued
// complex attribute and a sub-attribute it returns the list of values.
func valueAt(doc map[string]any, path string) any {
	var cur any = doc
	if i := strings.LastIndex(path, ":"); i > 0 && strings.HasPrefix(strings.ToLower(path), "urn:") {
		urn := path[:i]
		if strings.EqualFold(urn, SchemaUser) || strings.EqualFold(urn, SchemaGroup) {
			path = path[i+1:]
		} else {
			cur = getCI(doc, urn)
			path = path[i+1:]
		}
	}
	for _, part := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = getCI(c, part)
		case []any:
			vals := make([]any, 0, len(c))
			for _, e := range c {
				if m, ok := e.(map[string]any); ok {
					if v := getCI(m, part); v != nil {
						vals = append(vals, v)
					}
				}
			}
			cur = vals
		default:
			return nil
		}
	}
	return cur
}

func getCI(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// scanLimit bounds the matches a non-indexed filter collects before the
// server refuses with tooMany (RFC 7644 §3.4.2.2 allows that refusal).
const scanLimit = 200_000

// queryDocs runs q over every document produced by scan, or only over
// the candidates of an index when the filter allows it.
func queryDocs(ctx context.Context, q listQuery, sc filter.Schema, scan func(fn func(map[string]any) bool) error) (listResult, error) {
	var docs []map[string]any
	var tooMany bool
	err := scan(func(d map[string]any) bool {
		if ctx.Err() != nil {
			return false
		}
		if q.expr == nil || sc.Match(q.expr, d) {
			docs = append(docs, d)
			if len(docs) > scanLimit {
				tooMany = true
				return false
			}
		}
		return true
	})
	if err != nil {
		return listResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return listResult{}, err
	}
	if tooMany {
		return listResult{}, scimErr(http.StatusBadRequest, "tooMany", "the filter matches more than %d resources; narrow it", scanLimit)
	}
	return page(q, sc, docs), nil
}
