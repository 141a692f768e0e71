// Package harness starts real servers for end-to-end tests: an OpenID
// provider (StartOIDC) and a Gitea server (StartGitea) that signs people in
// through it.
//
// Both listen on 127.0.0.1 only, keep their data in the test's temporary
// folder and are stopped by the test's cleanup. Gitea is the released
// server, built once into the repository's .cache folder by
// build-gitea.sh (prepare.sh runs it); RequireGitea builds it on demand
// when a test needs it and it is missing.
//
// A typical test:
//
//	idp := harness.StartOIDC(t, harness.OIDCOptions{})
//	idp.AddUser(harness.User{Subject: "alice-sub-0001", Username: "alice"})
//	g := harness.StartGitea(t, harness.GiteaOptions{OIDC: idp})
//	// ... provision through g.AdminAPI, then:
//	client, err := g.LoginOIDC(t.Context(), idp, "alice")
//
// Tests that start Gitea are skipped under -short, except when the CI
// environment variable is "true": there a missing prerequisite fails the
// test instead of skipping it.
package harness
