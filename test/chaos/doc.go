// Package chaos holds the kill matrix (issue #13, item 3): the manager runs
// as a real process (test/managerproc) against a real API server (envtest)
// and a real authorization server (node-oidc-provider, hack/interop), and is
// killed with SIGKILL at seeded-random moments while OAuthClients are
// created, rotated and deleted; the API server is restarted in between.
// Afterwards the provider's own list of clients is checked against the
// Secrets and the objects' conditions, the documented recovery of
// RegistrationIncomplete is applied, and every object must end Ready with
// nothing left over at the provider.
//
// `go test ./test/chaos` (part of `make test`) runs a short matrix;
// `make kill-matrix` the full one. CLIENTREG_CHAOS_SEED (or -chaos.seed)
// replays a schedule, CLIENTREG_CHAOS_KILLS, CLIENTREG_CHAOS_CLIENTS and
// CLIENTREG_CHAOS_APISERVER_RESTARTS size it, CLIENTREG_CHAOS_LOGDIR keeps
// the manager logs. It has no non-test code.
package chaos
