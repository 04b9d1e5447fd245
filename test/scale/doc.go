// Package scale benchmarks the manager at the scale of issue #13 item 2:
// 10,000 OAuthClients for each backend (stateless, and dynamic registration
// at node-oidc-provider), with the manager running as a real process
// (test/managerproc) against a real API server (envtest).
//
// BenchmarkScale measures, for each backend and each size in SCALE_N (a
// comma-separated list, default 1000,10000): the time until every client is
// Ready and its ratio to the API server's own time for the same writes by a
// plain client in the same run; the manager's peak resident memory (and,
// over the sizes, the memory per client); its CPU and API requests while
// idle, and for the dynamic backend the RFC 7592 reads per client per resync
// interval at the provider; then, after a restart of the manager process,
// how its first reads reach the provider over the resync interval. Its
// figures go into `make bench` and the README's Scale section.
//
//	KUBEBUILDER_ASSETS=... go test -run '^$' -bench BenchmarkScale -benchtime 1x -timeout 150m ./test/scale
//
// SCALE_WORKERS (--max-concurrent-reconciles, default 16), SCALE_RESYNC
// (the provider's resync interval in seconds, default 30),
// SCALE_IDLE_RESYNCS (the idle window in resync intervals, default 3) and
// SCALE_READY_TIMEOUT (seconds, default 1800) tune a run; SCALE_LOGDIR
// keeps the managers' output. `go test ./test/scale` without -bench runs
// only the unit tests of the figures' arithmetic and starts no API server.
// It has no non-test code.
package scale
