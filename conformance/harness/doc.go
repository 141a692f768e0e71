// Package harness starts real servers for end-to-end tests: an OpenID
// provider (StartOIDC), a Gitea server (StartGitea) and a Coder server
// (StartCoder) that sign people in through it.
//
// All listen on 127.0.0.1 only, keep their data in the test's temporary
// folder and are stopped by the test's cleanup. Gitea and Coder are the
// released servers, built once into the repository's .cache folder by
// build-gitea.sh and build-coder.sh (prepare.sh runs both); RequireGitea
// builds Gitea on demand when a test needs it and it is missing. Coder
// keeps its data in PostgreSQL: the harness runs a throwaway cluster of
// the machine's PostgreSQL server programs, shared by the Coder servers
// of one test process and removed after the last one stops.
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
