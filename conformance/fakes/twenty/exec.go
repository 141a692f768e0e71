package twentyfake

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"
)

// record is a stored row: a person or a company.
type record struct {
	id        string
	createdAt time.Time
	updatedAt time.Time
	deletedAt *time.Time

	// person
	firstName, lastName string
	email               string // emailsPrimaryEmail, lower case; "" is null
	jobTitle, city      string // "" is null
	companyID           string // "" is null

	// company
	name   string
	domain string // domainNamePrimaryLinkUrl; "" is null
}

// table is one object's rows.
type table struct {
	object string // "Person" or "Company"
	rows   map[string]*record
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// view is a record as its GraphQL object, every field present.
func (f *Fake) view(tb *table, r *record) map[string]any {
	v := map[string]any{
		"__typename": tb.object,
		"id":         r.id,
		"createdAt":  timestamp(r.createdAt),
		"updatedAt":  timestamp(r.updatedAt),
		"deletedAt":  nil,
	}
	if r.deletedAt != nil {
		v["deletedAt"] = timestamp(*r.deletedAt)
	}
	switch tb.object {
	case "Person":
		v["name"] = map[string]any{"__typename": "FullName", "firstName": r.firstName, "lastName": r.lastName}
		v["emails"] = map[string]any{"__typename": "Emails", "primaryEmail": nullable(r.email), "additionalEmails": nil}
		// jobTitle and city are nullable TEXT fields
		// (packages/twenty-server/src/modules/person/standard-objects/person.workspace-entity.ts),
		// and Twenty stores an empty text as null
		// (.../common-args-processors/data-arg-processor/transformer-utils/transform-text-field.util.ts),
		// so an empty one reads as null.
		v["jobTitle"] = nullable(r.jobTitle)
		v["city"] = nullable(r.city)
		v["companyId"] = nullable(r.companyID)
		v["company"] = nil
		if c, ok := f.companies.rows[r.companyID]; ok {
			v["company"] = f.view(f.companies, c)
		}
	case "Company":
		v["name"] = r.name
		v["domainName"] = map[string]any{"__typename": "Links", "primaryLinkUrl": nullable(r.domain), "primaryLinkLabel": "", "secondaryLinks": nil}
	}
	return v
}

// project keeps the selected fields of a value of type t, under their
// response keys.
func project(v any, t typeRef, sel []*field) any {
	if v == nil {
		return nil
	}
	if t.elem != nil {
		items, _ := v.([]any)
		out := make([]any, len(items))
		for i, item := range items {
			out[i] = project(item, *t.elem, sel)
		}
		return out
	}
	obj, ok := v.(map[string]any)
	if !ok || sel == nil {
		return v
	}
	fields := outputs[t.name]
	out := make(orderedObject, 0, len(sel))
	for _, f := range sel {
		if f.name == "__typename" {
			out = append(out, kv{f.key(), t.name})
			continue
		}
		out = append(out, kv{f.key(), project(obj[f.name], fields[f.name].typ, f.sel)})
	}
	return out
}

// execute runs a validated request and returns its "data" and the
// field errors.
func (f *Fake) execute(r *request) (orderedObject, []*gqlError) {
	root := "Query"
	if r.op.kind == "mutation" {
		root = "Mutation"
	}
	data := orderedObject{}
	var errs []*gqlError
	for _, fl := range r.op.sel {
		if fl.name == "__typename" {
			data = append(data, kv{fl.key(), root})
			continue
		}
		def := outputs[root][fl.name]
		f.calls = append(f.calls, r.op.kind+" "+fl.name)
		args, err := r.args(fl, def)
		var v any
		if err == nil {
			v, err = f.resolve(fl.name, args)
		}
		if err != nil {
			ge, ok := err.(*gqlError)
			if !ok {
				ge = newError(codeBadUserInput, "%v", err)
			}
			ge.Path = []any{fl.key()}
			ge = ge.at(fl.line, fl.col)
			errs = append(errs, ge)
			if def.typ.nonNull {
				// A non-null root field that fails nulls the whole data.
				return nil, errs
			}
			data = append(data, kv{fl.key(), nil})
			continue
		}
		data = append(data, kv{fl.key(), project(v, def.typ, fl.sel)})
	}
	return data, errs
}

func (f *Fake) resolve(name string, args map[string]any) (any, error) {
	switch name {
	case "people":
		return f.findMany(f.people, args)
	case "companies":
		return f.findMany(f.companies, args)
	case "createPerson":
		return f.createOne(f.people, args)
	case "createCompany":
		return f.createOne(f.companies, args)
	case "updatePerson":
		return f.updateOne(f.people, args)
	case "updateCompany":
		return f.updateOne(f.companies, args)
	case "deletePerson":
		return f.deleteOne(f.people, args)
	case "deleteCompany":
		return f.deleteOne(f.companies, args)
	case "restorePerson":
		return f.restoreOne(f.people, args)
	case "restoreCompany":
		return f.restoreOne(f.companies, args)
	case "updatePeople":
		return f.updateMany(f.people, args)
	}
	return nil, newError(codeBadUserInput, "twentyfake: no resolver for %q", name)
}

// maxRecords is the page size when first is not given (QUERY_MAX_RECORDS,
// twenty-shared/src/constants).
const maxRecords = 60

func notFound() error { return newError(codeNotFound, "Record not found") }

// rows returns the table's rows matching filter: soft-deleted rows only
// when the filter mentions deletedAt, as Twenty's
// GraphqlQueryParser.applyDeletedAtToBuilder does
// (packages/twenty-server/src/engine/api/graphql/graphql-query-runner/graphql-query-parsers/graphql-query.parser.ts).
func (f *Fake) rows(tb *table, filter map[string]any) ([]*record, error) {
	if err := checkFilter(filter, tb.object+"FilterInput"); err != nil {
		return nil, err
	}
	withDeleted := mentionsDeletedAt(filter)
	var out []*record
	for _, r := range tb.rows {
		if r.deletedAt != nil && !withDeleted {
			continue
		}
		if matches(f.view(tb, r), filter, tb.object+"FilterInput") {
			out = append(out, r)
		}
	}
	return out, nil
}

// checkFilter refuses the filters Twenty would run wrongly or not at all.
// Twenty applies only the first operator of a field's filter and ignores
// the others (const [[operator, value]] = Object.entries(filterValue) in
// .../graphql-query-parsers/graphql-query-filter/graphql-query-filter-field.parser.ts),
// so this fake refuses a second one rather than guess which is first;
// an empty "in" is INVALID_QUERY_INPUT there ("Expected non-empty
// array"). An empty and/or list gives TypeORM empty brackets, which this
// fake refuses too.
func checkFilter(filter map[string]any, typeName string) error {
	fields := inputs[typeName]
	for k, cond := range filter {
		switch k {
		case "and", "or":
			subs, _ := cond.([]any)
			if len(subs) == 0 {
				return newError(codeBadUserInput, "twentyfake: an empty %q list is not supported", k)
			}
			for _, sub := range subs {
				m, _ := sub.(map[string]any)
				if err := checkFilter(m, typeName); err != nil {
					return err
				}
			}
			continue
		case "not":
			m, _ := cond.(map[string]any)
			if err := checkFilter(m, typeName); err != nil {
				return err
			}
			continue
		}
		m, _ := cond.(map[string]any)
		ft := fields[k].named()
		if !leafFilters[ft] {
			if err := checkFilter(m, ft); err != nil {
				return err
			}
			continue
		}
		if len(m) != 1 {
			return newError(codeBadUserInput, "twentyfake: the filter of field %q has %d operators; Twenty applies exactly one per field (combine several with and)", k, len(m))
		}
		if in, ok := m["in"]; ok {
			if list, _ := in.([]any); len(list) == 0 {
				return newError(codeBadUserInput, "Invalid filter value for field %s. Expected non-empty array", k)
			}
		}
	}
	return nil
}

func mentionsDeletedAt(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "deletedAt" || mentionsDeletedAt(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if mentionsDeletedAt(e) {
				return true
			}
		}
	}
	return false
}

// findMany serves people and companies: filter, orderBy (then id), first
// and after. Backward paging (last, before) and offset are refused rather
// than ignored.
func (f *Fake) findMany(tb *table, args map[string]any) (any, error) {
	for _, a := range []string{"last", "before", "offset"} {
		if _, ok := args[a]; ok {
			return nil, newError(codeBadUserInput, "twentyfake: argument %q is not supported by this fake", a)
		}
	}
	filter, _ := args["filter"].(map[string]any)
	rows, err := f.rows(tb, filter)
	if err != nil {
		return nil, err
	}
	order, _ := args["orderBy"].([]any)
	sortRows(f, tb, rows, order)
	total := len(rows)
	if after, ok := args["after"].(string); ok {
		id, err := base64.StdEncoding.DecodeString(after)
		if err != nil {
			return nil, newError(codeBadUserInput, "Invalid cursor")
		}
		i := 0
		for i < len(rows) && rows[i].id != string(id) {
			i++
		}
		if i == len(rows) {
			rows = nil
		} else {
			rows = rows[i+1:]
		}
	}
	limit := int64(maxRecords)
	if n, ok := args["first"].(int64); ok {
		if n < 0 {
			return nil, newError(codeBadUserInput, "First argument must be non-negative")
		}
		limit = n
	}
	hasNext := int64(len(rows)) > limit
	if hasNext {
		rows = rows[:limit]
	}
	edges := make([]any, len(rows))
	var start, end any
	for i, r := range rows {
		c := base64.StdEncoding.EncodeToString([]byte(r.id))
		edges[i] = map[string]any{"node": f.view(tb, r), "cursor": c}
		if i == 0 {
			start = c
		}
		end = c
	}
	return map[string]any{
		"edges":      edges,
		"totalCount": int64(total),
		"pageInfo": map[string]any{
			"hasNextPage": hasNext, "hasPreviousPage": false,
			"startCursor": start, "endCursor": end,
		},
	}, nil
}

func sortRows(f *Fake, tb *table, rows []*record, order []any) {
	sort.SliceStable(rows, func(i, j int) bool {
		vi, vj := f.view(tb, rows[i]), f.view(tb, rows[j])
		for _, o := range order {
			m, _ := o.(map[string]any)
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				dir, _ := m[k].(string)
				c := compareNullable(vi[k], vj[k], strings.HasSuffix(dir, "NullsFirst"))
				if strings.HasPrefix(dir, "Desc") {
					c = -c
				}
				if c != 0 {
					return c < 0
				}
			}
		}
		return rows[i].id < rows[j].id
	})
}

func compareNullable(a, b any, nullsFirst bool) int {
	as, aok := a.(string)
	bs, bok := b.(string)
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		if nullsFirst {
			return -1
		}
		return 1
	case !bok:
		if nullsFirst {
			return 1
		}
		return -1
	}
	return strings.Compare(as, bs)
}

// createOne serves createPerson and createCompany. With upsert, a live
// record that has the same id, or else the same value of a unique field,
// is updated instead, as GraphqlQueryCreateManyResolverService does
// (.../graphql-query-runner/resolvers/graphql-query-create-many-resolver.service.ts):
// the id alone when data has one, and soft-deleted rows are not seen.
// With UpsertByIDOnly, only the id is matched.
func (f *Fake) createOne(tb *table, args map[string]any) (any, error) {
	data, _ := args["data"].(map[string]any)
	if upsert, _ := args["upsert"].(bool); upsert {
		var existing *record
		if id, ok := data["id"].(string); ok {
			if r, ok := tb.rows[id]; ok && r.deletedAt == nil {
				existing = r
			}
		} else if key := uniqueValue(tb, data); key != "" && !f.upsertByID {
			for _, r := range tb.rows {
				if r.deletedAt == nil && uniqueOf(tb, r) == key {
					existing = r
				}
			}
		}
		if existing != nil {
			patch := map[string]any{}
			for k, v := range data {
				if k != "id" {
					patch[k] = v
				}
			}
			if err := f.apply(tb, existing, patch); err != nil {
				return nil, err
			}
			return f.view(tb, existing), nil
		}
	}
	now := f.now()
	r := &record{id: newUUID(), createdAt: now, updatedAt: now}
	if id, ok := data["id"].(string); ok {
		if _, dup := tb.rows[id]; dup {
			return nil, duplicate("Id", id, id)
		}
		r.id = id
	}
	if err := f.apply(tb, r, data); err != nil {
		return nil, err
	}
	tb.rows[r.id] = r
	return f.view(tb, r), nil
}

// uniqueValue is the value data gives the object's unique field
// (person.emails.primaryEmail, company.domainName.primaryLinkUrl).
func uniqueValue(tb *table, data map[string]any) string {
	var sub map[string]any
	var key string
	switch tb.object {
	case "Person":
		sub, _ = data["emails"].(map[string]any)
		key = "primaryEmail"
	case "Company":
		sub, _ = data["domainName"].(map[string]any)
		key = "primaryLinkUrl"
	}
	s, _ := sub[key].(string)
	if tb.object == "Person" {
		s = strings.ToLower(s)
	}
	return s
}

func uniqueOf(tb *table, r *record) string {
	if tb.object == "Person" {
		return r.email
	}
	return r.domain
}

// duplicate is the error of a unique index violation, as Twenty's
// handleDuplicateKeyError phrases it
// (packages/twenty-server/src/engine/api/graphql/workspace-query-runner/utils/handle-duplicate-key-error.util.ts)
// and twentyORMGraphqlApiExceptionHandler codes it (BAD_USER_INPUT, with
// the conflicting record).
func duplicate(label, val, conflicting string) error {
	e := newError(codeBadUserInput, "Duplicate %s with value %s. Please set a unique one.", label, val)
	e.Extensions["userFriendlyMessage"] = fmt.Sprintf("This %s with value %s is already taken. Please choose a different value.", strings.ToLower(label), val)
	e.Extensions["conflictingRecordId"] = conflicting
	return e
}

// apply writes data (an input object of the table's type) into r,
// checking the unique index and the foreign key. Composite fields are
// merged: a sub-field left out keeps its value, as Twenty's record
// transformers do (packages/twenty-server/src/engine/core-modules/record-transformer/utils/transform-emails-value.util.ts).
func (f *Fake) apply(tb *table, r *record, data map[string]any) error {
	next := *r
	str := func(v any) string { s, _ := v.(string); return s }
	for k, v := range data {
		switch k {
		case "id":
		case "name":
			if tb.object == "Company" {
				next.name = str(v)
				continue
			}
			m, _ := v.(map[string]any)
			if x, ok := m["firstName"]; ok {
				next.firstName = str(x)
			}
			if x, ok := m["lastName"]; ok {
				next.lastName = str(x)
			}
		case "emails":
			m, _ := v.(map[string]any)
			if x, ok := m["primaryEmail"]; ok {
				// Twenty stores primary emails in lower case.
				next.email = strings.ToLower(strings.TrimSpace(str(x)))
			}
		case "domainName":
			m, _ := v.(map[string]any)
			if x, ok := m["primaryLinkUrl"]; ok {
				next.domain = str(x)
			}
		case "jobTitle":
			next.jobTitle = str(v)
		case "city":
			next.city = str(v)
		case "companyId":
			id := str(v)
			if id != "" {
				if _, ok := f.companies.rows[id]; !ok {
					return newError(codeBadUserInput, "insert or update on table \"person\" violates foreign key constraint: company %s does not exist", id)
				}
			}
			next.companyID = id
		}
	}
	// The standard unique indexes on person.emails and
	// company.domainName cover soft-deleted rows too
	// (twentyhq/twenty issue 26216), so a trashed record keeps its value.
	if key := uniqueOf(tb, &next); key != "" {
		for _, o := range tb.rows {
			if o.id != next.id && uniqueOf(tb, o) == key {
				label := "Emails"
				if tb.object == "Company" {
					label = "Domain Name"
				}
				return duplicate(label, key, o.id)
			}
		}
	}
	next.updatedAt = f.now()
	*r = next
	return nil
}

func (f *Fake) updateOne(tb *table, args map[string]any) (any, error) {
	id, _ := args["id"].(string)
	r, ok := tb.rows[id]
	if !ok || r.deletedAt != nil {
		return nil, notFound()
	}
	data, _ := args["data"].(map[string]any)
	if newID, ok := data["id"].(string); ok && newID != id {
		return nil, newError(codeBadUserInput, "twentyfake: changing a record's id is not supported")
	}
	if err := f.apply(tb, r, data); err != nil {
		return nil, err
	}
	return f.view(tb, r), nil
}

// deleteOne is Twenty's soft delete: deletedAt is set and the row stays
// (.../resolvers/graphql-query-delete-one-resolver.service.ts).
func (f *Fake) deleteOne(tb *table, args map[string]any) (any, error) {
	id, _ := args["id"].(string)
	r, ok := tb.rows[id]
	if !ok {
		return nil, notFound()
	}
	now := f.now()
	r.deletedAt = &now
	return f.view(tb, r), nil
}

func (f *Fake) restoreOne(tb *table, args map[string]any) (any, error) {
	id, _ := args["id"].(string)
	r, ok := tb.rows[id]
	if !ok {
		return nil, notFound()
	}
	r.deletedAt = nil
	return f.view(tb, r), nil
}

// updateMany applies data to every row matching filter, all or nothing.
func (f *Fake) updateMany(tb *table, args map[string]any) (any, error) {
	filter, _ := args["filter"].(map[string]any)
	data, _ := args["data"].(map[string]any)
	if _, ok := data["id"]; ok {
		return nil, newError(codeBadUserInput, "twentyfake: changing a record's id is not supported")
	}
	rows, err := f.rows(tb, filter)
	if err != nil {
		return nil, err
	}
	sortRows(f, tb, rows, nil)
	saved := make([]record, len(rows))
	for i, r := range rows {
		saved[i] = *r
	}
	out := make([]any, 0, len(rows))
	for i, r := range rows {
		if err := f.apply(tb, r, data); err != nil {
			for j := range i {
				*rows[j] = saved[j]
			}
			return nil, err
		}
		out = append(out, f.view(tb, r))
	}
	return out, nil
}

// matches evaluates a filter input of type typeName against a view.
func matches(view map[string]any, filter map[string]any, typeName string) bool {
	fields := inputs[typeName]
	for k, cond := range filter {
		switch k {
		case "and":
			for _, sub := range cond.([]any) {
				m, _ := sub.(map[string]any)
				if !matches(view, m, typeName) {
					return false
				}
			}
			continue
		case "or":
			subs := cond.([]any)
			one := len(subs) == 0
			for _, sub := range subs {
				m, _ := sub.(map[string]any)
				if matches(view, m, typeName) {
					one = true
				}
			}
			if !one {
				return false
			}
			continue
		case "not":
			m, _ := cond.(map[string]any)
			if matches(view, m, typeName) {
				return false
			}
			continue
		}
		m, _ := cond.(map[string]any)
		ft := fields[k].named()
		if leafFilters[ft] {
			if !compare(view[k], m) {
				return false
			}
			continue
		}
		sub, _ := view[k].(map[string]any)
		if !matches(sub, m, ft) {
			return false
		}
	}
	return true
}

// compare applies a leaf filter (StringFilter, UUIDFilter, DateFilter) to
// a column's value with SQL's null semantics: a comparison with null is
// false.
func compare(v any, ops map[string]any) bool {
	s, isSet := v.(string)
	for op, arg := range ops {
		if op == "is" {
			if (arg == "NULL") == isSet {
				return false
			}
			continue
		}
		if !isSet || arg == nil {
			return false
		}
		a, _ := arg.(string)
		var ok bool
		switch op {
		case "eq":
			ok = s == a
		case "neq":
			ok = s != a
		case "in":
			for _, x := range arg.([]any) {
				if x == s {
					ok = true
				}
			}
		case "gt":
			ok = s > a
		case "gte":
			ok = s >= a
		case "lt":
			ok = s < a
		case "lte":
			ok = s <= a
		case "startsWith":
			ok = strings.HasPrefix(s, a)
		case "like":
			ok = like(s, a)
		case "ilike":
			ok = like(strings.ToLower(s), strings.ToLower(a))
		}
		if !ok {
			return false
		}
	}
	return true
}

// like matches SQL LIKE patterns with % and _.
func like(s, pattern string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '%':
		for i := 0; i <= len(s); i++ {
			if like(s[i:], pattern[1:]) {
				return true
			}
		}
		return false
	case '_':
		return s != "" && like(s[1:], pattern[1:])
	}
	return s != "" && s[0] == pattern[0] && like(s[1:], pattern[1:])
}

// orderedObject is a JSON object that keeps its keys in selection order,
// as GraphQL responses do.
type orderedObject []kv

type kv struct {
	key string
	val any
}
