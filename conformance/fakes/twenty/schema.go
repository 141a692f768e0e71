package twentyfake

// The part of a Twenty workspace's generated GraphQL schema that this fake
// serves: the standard Person and Company objects, their connections,
// filters and inputs, and the root fields the scimbridge connector uses.
// Names follow Twenty's schema builder:
//
//   - root fields and their arguments:
//     packages/twenty-server/src/engine/api/graphql/workspace-schema-builder/utils/get-resolver-args.util.ts
//     (findMany: filter, orderBy, first, last, before, after; createOne:
//     data, upsert; updateOne: id, data; deleteOne, restoreOne: id;
//     updateMany: data, filter);
//   - input type names, <Object><Kind>Input:
//     .../workspace-schema-builder/utils/compute-stored-gql-type-key-utils/compute-object-metadata-input-type.util.ts
//     and FullNameCreateInput for composite fields
//     (.../__tests__/compute-composite-field-input-type-key.util.spec.ts);
//   - the fields of Person and Company:
//     packages/twenty-server/src/modules/person/standard-objects/person.workspace-entity.ts,
//     packages/twenty-server/src/modules/company/standard-objects/company.workspace-entity.ts.

// fieldDef is a field of an output type.
type fieldDef struct {
	typ  typeRef
	args map[string]typeRef
}

// scalars are the scalar types the subset uses, with the JSON kind their
// values take.
var scalars = map[string]bool{
	"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true,
	"UUID": true, "DateTime": true, "RawJSONScalar": true,
}

// enums are the enum types the subset uses.
var enums = map[string][]string{
	"FilterIs":         {"NULL", "NOT_NULL"},
	"OrderByDirection": {"AscNullsFirst", "AscNullsLast", "DescNullsFirst", "DescNullsLast"},
}

func findManyArgs(object string) map[string]typeRef {
	return map[string]typeRef{
		"filter":  named(object + "FilterInput"),
		"orderBy": listOf(named(object + "OrderByInput").req()),
		"first":   named("Int"),
		"last":    named("Int"),
		"offset":  named("Int"),
		"before":  named("String"),
		"after":   named("String"),
	}
}

func createArgs(object string) map[string]typeRef {
	return map[string]typeRef{"data": named(object + "CreateInput").req(), "upsert": named("Boolean")}
}

func updateArgs(object string) map[string]typeRef {
	return map[string]typeRef{"id": named("UUID").req(), "data": named(object + "UpdateInput").req()}
}

func idArgs() map[string]typeRef { return map[string]typeRef{"id": named("UUID").req()} }

func updateManyArgs(object string) map[string]typeRef {
	return map[string]typeRef{"data": named(object + "UpdateInput").req(), "filter": named(object + "FilterInput").req()}
}

// outputs are the object types, by name.
var outputs = map[string]map[string]fieldDef{
	"Query": {
		"people":    {typ: named("PersonConnection").req(), args: findManyArgs("Person")},
		"companies": {typ: named("CompanyConnection").req(), args: findManyArgs("Company")},
	},
	"Mutation": {
		"createPerson":   {typ: named("Person"), args: createArgs("Person")},
		"updatePerson":   {typ: named("Person"), args: updateArgs("Person")},
		"deletePerson":   {typ: named("Person"), args: idArgs()},
		"restorePerson":  {typ: named("Person"), args: idArgs()},
		"updatePeople":   {typ: listOf(named("Person").req()), args: updateManyArgs("Person")},
		"createCompany":  {typ: named("Company"), args: createArgs("Company")},
		"updateCompany":  {typ: named("Company"), args: updateArgs("Company")},
		"deleteCompany":  {typ: named("Company"), args: idArgs()},
		"restoreCompany": {typ: named("Company"), args: idArgs()},
	},
	"Person": {
		"id":        {typ: named("UUID").req()},
		"name":      {typ: named("FullName")},
		"emails":    {typ: named("Emails")},
		"jobTitle":  {typ: named("String")},
		"city":      {typ: named("String")},
		"companyId": {typ: named("UUID")},
		"company":   {typ: named("Company")},
		"createdAt": {typ: named("DateTime").req()},
		"updatedAt": {typ: named("DateTime").req()},
		"deletedAt": {typ: named("DateTime")},
	},
	"Company": {
		"id":         {typ: named("UUID").req()},
		"name":       {typ: named("String")},
		"domainName": {typ: named("Links")},
		"createdAt":  {typ: named("DateTime").req()},
		"updatedAt":  {typ: named("DateTime").req()},
		"deletedAt":  {typ: named("DateTime")},
	},
	"FullName": {
		"firstName": {typ: named("String")},
		"lastName":  {typ: named("String")},
	},
	"Emails": {
		"primaryEmail":     {typ: named("String")},
		"additionalEmails": {typ: named("RawJSONScalar")},
	},
	"Links": {
		"primaryLinkUrl":   {typ: named("String")},
		"primaryLinkLabel": {typ: named("String")},
		"secondaryLinks":   {typ: named("RawJSONScalar")},
	},
	"PersonConnection":  connection("Person"),
	"PersonEdge":        edge("Person"),
	"CompanyConnection": connection("Company"),
	"CompanyEdge":       edge("Company"),
	"PageInfo": {
		"hasNextPage":     {typ: named("Boolean")},
		"hasPreviousPage": {typ: named("Boolean")},
		"startCursor":     {typ: named("String")},
		"endCursor":       {typ: named("String")},
	},
}

func connection(object string) map[string]fieldDef {
	return map[string]fieldDef{
		"edges":      {typ: listOf(named(object + "Edge").req()).req()},
		"pageInfo":   {typ: named("PageInfo").req()},
		"totalCount": {typ: named("Int")},
	}
}

func edge(object string) map[string]fieldDef {
	return map[string]fieldDef{
		"node":   {typ: named(object).req()},
		"cursor": {typ: named("String").req()},
	}
}

// inputs are the input object types, by name.
var inputs = map[string]map[string]typeRef{
	"PersonCreateInput": {
		"id": named("UUID"), "name": named("FullNameCreateInput"), "emails": named("EmailsCreateInput"),
		"jobTitle": named("String"), "city": named("String"), "companyId": named("UUID"),
	},
	"PersonUpdateInput": {
		"id": named("UUID"), "name": named("FullNameUpdateInput"), "emails": named("EmailsUpdateInput"),
		"jobTitle": named("String"), "city": named("String"), "companyId": named("UUID"),
	},
	"FullNameCreateInput": {"firstName": named("String"), "lastName": named("String")},
	"FullNameUpdateInput": {"firstName": named("String"), "lastName": named("String")},
	"EmailsCreateInput":   {"primaryEmail": named("String"), "additionalEmails": named("RawJSONScalar")},
	"EmailsUpdateInput":   {"primaryEmail": named("String"), "additionalEmails": named("RawJSONScalar")},
	"PersonFilterInput": {
		"id": named("UUIDFilter"), "name": named("FullNameFilter"), "emails": named("EmailsFilter"),
		"jobTitle": named("StringFilter"), "city": named("StringFilter"), "companyId": named("UUIDFilter"),
		"createdAt": named("DateFilter"), "updatedAt": named("DateFilter"), "deletedAt": named("DateFilter"),
		"and": listOf(named("PersonFilterInput")), "or": listOf(named("PersonFilterInput")), "not": named("PersonFilterInput"),
	},
	"PersonOrderByInput": {
		"id": named("OrderByDirection"), "createdAt": named("OrderByDirection"), "updatedAt": named("OrderByDirection"),
	},
	"CompanyCreateInput": {"id": named("UUID"), "name": named("String"), "domainName": named("LinksCreateInput")},
	"CompanyUpdateInput": {"id": named("UUID"), "name": named("String"), "domainName": named("LinksUpdateInput")},
	"LinksCreateInput":   {"primaryLinkUrl": named("String"), "primaryLinkLabel": named("String"), "secondaryLinks": named("RawJSONScalar")},
	"LinksUpdateInput":   {"primaryLinkUrl": named("String"), "primaryLinkLabel": named("String"), "secondaryLinks": named("RawJSONScalar")},
	"CompanyFilterInput": {
		"id": named("UUIDFilter"), "name": named("StringFilter"), "domainName": named("LinksFilter"),
		"createdAt": named("DateFilter"), "updatedAt": named("DateFilter"), "deletedAt": named("DateFilter"),
		"and": listOf(named("CompanyFilterInput")), "or": listOf(named("CompanyFilterInput")), "not": named("CompanyFilterInput"),
	},
	"CompanyOrderByInput": {
		"id": named("OrderByDirection"), "name": named("OrderByDirection"),
		"createdAt": named("OrderByDirection"), "updatedAt": named("OrderByDirection"),
	},
	"FullNameFilter": {"firstName": named("StringFilter"), "lastName": named("StringFilter")},
	"EmailsFilter":   {"primaryEmail": named("StringFilter")},
	"LinksFilter":    {"primaryLinkUrl": named("StringFilter")},
	"StringFilter": {
		"eq": named("String"), "neq": named("String"), "in": listOf(named("String").req()),
		"like": named("String"), "ilike": named("String"), "startsWith": named("String"), "is": named("FilterIs"),
	},
	"UUIDFilter": {
		"eq": named("UUID"), "neq": named("UUID"), "in": listOf(named("UUID").req()), "is": named("FilterIs"),
	},
	"DateFilter": {
		"eq": named("DateTime"), "neq": named("DateTime"), "in": listOf(named("DateTime").req()),
		"gt": named("DateTime"), "gte": named("DateTime"), "lt": named("DateTime"), "lte": named("DateTime"),
		"is": named("FilterIs"),
	},
}

// leafFilters are the filter inputs that compare one column; the other
// filter inputs (FullNameFilter, ...) select a sub-field of a composite.
var leafFilters = map[string]bool{"StringFilter": true, "UUIDFilter": true, "DateFilter": true}

// isInputType reports whether a named type may be a variable's type.
func isInputType(name string) bool {
	_, isEnum := enums[name]
	_, isInput := inputs[name]
	return scalars[name] || isEnum || isInput
}
