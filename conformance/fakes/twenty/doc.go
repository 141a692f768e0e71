// Package twentyfake is a stateful fake of a Twenty CRM workspace's
// GraphQL API, for tests of the scimbridge Twenty connector and of
// anything that runs it end to end.
//
// New starts an HTTP server that answers POST /graphql. It parses every
// document it gets (operations, variables, aliases, arguments and
// literals of every kind; fragments, directives and subscriptions are
// refused with GRAPHQL_PARSE_FAILED), validates it against the part of a
// workspace schema it serves (the standard Person and Company objects:
// people, companies, createPerson, updatePerson, deletePerson,
// restorePerson, updatePeople, createCompany, updateCompany,
// deleteCompany, restoreCompany) with graphql-js's messages and
// GRAPHQL_VALIDATION_FAILED, coerces variables to their declared types
// (so a client that declares a wrong type fails as it would against
// Twenty), and runs it on its own state.
//
// It enforces the rules of Twenty a connector meets, each taken from
// Twenty's source (cited where it is implemented):
//
//   - the API key as "Authorization: Bearer", refused with a GraphQL
//     error (FORBIDDEN without a token, UNAUTHENTICATED for a wrong one)
//     in an answer with status 200;
//   - ids are UUIDs; primary emails are stored in lower case and are
//     unique among people, and domain names among companies, soft-deleted
//     records included (BAD_USER_INPUT "Duplicate Emails with value ...");
//     company names are not unique;
//   - deletePerson is a soft delete (deletedAt set) and restorePerson
//     undoes it; a query sees soft-deleted records only when its filter
//     mentions deletedAt; updatePerson of one is NOT_FOUND;
//   - createPerson with upsert updates the live person with the same id,
//     or else the same primary email, instead of inserting (UpsertByIDOnly
//     switches to the id-only matching of some Twenty versions);
//   - a person's jobTitle and city are nullable text fields: an empty
//     text is stored, and read, as null;
//   - a person's companyId must name an existing company;
//   - a field's filter takes exactly one operator (Twenty silently uses
//     only the first), and "in" a non-empty list;
//   - connections with edges, cursors, pageInfo and totalCount, 60
//     records a page unless first says otherwise.
//
// Fail and Slow inject faults: a status (429 with Retry-After, 502, 503)
// for the next requests, or answers that come late. Person, People,
// AddPerson, SetPersonText, Company, AddCompany and their kin read and
// change the state directly, and Service adapts the fake to the connector suite
// (conformance/connectortest).
package twentyfake
