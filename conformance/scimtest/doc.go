// Package scimtest is a black-box conformance suite for SCIM 2.0 service
// providers (RFC 7643, RFC 7644). It talks to a base URL with a bearer
// token over plain HTTP, so it runs against scimbridge in-process (through
// httptest), against a deployed scimbridge, or against any other SCIM
// server.
//
// Every Check names the RFC section it exercises. Checks create their own
// users and groups under unique, randomly suffixed names and delete them
// afterwards, so the suite can run against a server that already holds
// data, and any number of times.
//
// Before a feature-specific check runs, the suite reads
// /ServiceProviderConfig, /ResourceTypes and /Schemas. A check of a
// feature the server says it does not support (PATCH, Bulk, sorting,
// ETags, the enterprise extension, ...) ends with an error wrapping
// ErrNotAdvertised: a distinct result, neither a pass nor a failure.
// Nothing else is skipped.
//
// Use Test from a Go test, or RunAll from a command:
//
//	func TestSCIM(t *testing.T) {
//		scimtest.Test(t, scimtest.Config{BaseURL: srv.URL + "/scim/v2", Token: token})
//	}
package scimtest
