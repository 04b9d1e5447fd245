// Package install holds the installation tests: the Helm chart
// (charts/clientreg) rendered with Helm's Go SDK, linted, checked against its
// schema and applied to a real API server (envtest), the manager run under the
// chart's ServiceAccount identity, and the kustomize installation
// (config/default) built with the kustomize API and applied the same way.
// It has no non-test code.
package install
