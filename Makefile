# clientreg Makefile. Every tool is pinned and installed into ./bin under a
# versioned name; nothing is fetched with @latest.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# golangci-lint, built from the module proxy into bin/ (not a dependency in go.mod).
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
export GOLANGCI_LINT

KUBERNETES_VERSION ?= v1.37.0
STAGING_VERSION ?= v0.37.0
ETCD_VERSION ?= v3.7.3
export KUBERNETES_VERSION STAGING_VERSION ETCD_VERSION
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s/$(KUBERNETES_VERSION:v%=%)-etcd-$(ETCD_VERSION:v%=%)

# node-oidc-provider, the pinned interop test peer (npm, lock file committed).
INTEROP_DIR ?= hack/interop
# The real MCP client (@modelcontextprotocol/sdk) test peer (npm, lock file committed).
MCP_DIR ?= hack/mcp
# The node-oidc-provider integration that accepts stateless client ids (npm,
# lock file committed), tested against ids minted by the Go code.
INTEGRATIONS_DIR ?= integrations/oidc-provider

# Short fuzzing run of the request decoders in `make test`: a count of
# executions (about 7-20 s each here), not a duration. A duration
# (-fuzztime 10s) can fail a run that found nothing with "context deadline
# exceeded" when a worker is still busy at the deadline, a race in Go's fuzz
# coordinator that Go 1.26 has (golang/go#75804, fixed in Go 1.27); it
# failed one `make test` on this machine.
FUZZTIME ?= 200000x
GO_TEST_FLAGS ?= -count=1 -timeout=25m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs, RBAC and webhook configurations into config/, and copy CRDs into the chart.
	$(CONTROLLER_GEN) rbac:roleName=clientreg-manager-role crd webhook paths="./api/..." paths="./controllers/..." paths="./webhook/..." paths="./internal/registration/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac output:webhook:artifacts:config=config/webhook
	hack/sync-chart-crds.sh
	$(MAKE) chart-manifests

.PHONY: chart-manifests
chart-manifests: ## Generate the chart's ClusterRole and webhook configurations from config/ (part of manifests).
	hack/sync-chart-rbac.sh
	hack/sync-chart-webhooks.sh

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## go fmt
	go fmt ./...

.PHONY: vet
vet: ## go vet
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## gofmt check, go vet and golangci-lint (.golangci.yml).
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*'))"; \
	if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...

.PHONY: test-binaries
test-binaries: ## Build kube-apiserver (version-stamped) and etcd from their Go modules into bin/ (kept when current).
	hack/build-test-binaries.sh >/dev/null

# The race detector runs on the packages whose caches and clients are shared
# between reconciles and requests (the backends, the protocol code); the
# envtest packages would double a cold make test.
RACE_PACKAGES ?= ./registrar/... ./controllers/backend/...

.PHONY: test
test: test-binaries $(CONTROLLER_GEN) lint interop-deps integrations-test ## Run every test (unit, envtest, generated-file check, node integration, race detector on the concurrent caches, short fuzz).
	CONTROLLER_GEN=$(CONTROLLER_GEN) KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test $(GO_TEST_FLAGS) ./...
	go test -race $(RACE_PACKAGES)
	go test -run '^$$' -fuzz '^FuzzDecodeValidate$$' -fuzztime $(FUZZTIME) ./registrar/metadata
	go test -run '^$$' -fuzz '^FuzzCheckJWK$$' -fuzztime $(FUZZTIME) ./registrar/metadata
	go test -run '^$$' -fuzz '^FuzzRegister$$' -fuzztime $(FUZZTIME) ./registrar/endpoint

.PHONY: bench
bench: test-binaries interop-deps ## Run the benchmarks (stateless minting, envtest throughput).
	go test -run '^$$' -bench . -benchtime 2000x ./registrar/stateless
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test -run '^$$' -bench 'BenchmarkStatelessClients' -benchtime 1x -timeout 30m ./controllers
	CLIENTREG_BENCH_N=$${CLIENTREG_BENCH_N:-1000} KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test -run '^$$' -bench 'BenchmarkDynamicClients' -benchtime 1x -timeout 30m ./controllers/interop
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test -run '^$$' -bench 'BenchmarkScale' -benchtime 1x -timeout 150m ./test/scale

# The kill matrix (test/chaos): its size, and CHAOS_SEED to replay a run's schedule.
CHAOS_KILLS ?= 100
CHAOS_CLIENTS ?= 1000
CHAOS_APISERVER_RESTARTS ?= 2
CHAOS_SEED ?=

.PHONY: kill-matrix
kill-matrix: test-binaries interop-deps ## Kill matrix: 1000 registrations at node-oidc-provider, the manager SIGKILLed 100 times, the API server restarted twice (CHAOS_SEED=<n> replays).
	CLIENTREG_CHAOS_KILLS=$(CHAOS_KILLS) CLIENTREG_CHAOS_CLIENTS=$(CHAOS_CLIENTS) CLIENTREG_CHAOS_APISERVER_RESTARTS=$(CHAOS_APISERVER_RESTARTS) CLIENTREG_CHAOS_SEED=$(CHAOS_SEED) \
		KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test -count=1 -v -run '^TestKillMatrix$$' -timeout 40m ./test/chaos

.PHONY: integrations-deps
integrations-deps: $(INTEGRATIONS_DIR)/node_modules/.package-lock.json ## Install the node-oidc-provider integration's pinned npm packages.

$(INTEGRATIONS_DIR)/node_modules/.package-lock.json: $(INTEGRATIONS_DIR)/package-lock.json
	npm ci --prefix $(INTEGRATIONS_DIR) --no-audit --no-fund

.PHONY: integrations-test
integrations-test: integrations-deps | $(LOCALBIN) ## node-oidc-provider integration tests (node --test) against ids minted by hack/mintids.
	go build -o $(LOCALBIN)/mintids ./hack/mintids
	cd $(INTEGRATIONS_DIR) && MINTIDS=$(abspath $(LOCALBIN))/mintids node --test test/

.PHONY: interop-deps
interop-deps: $(INTEROP_DIR)/node_modules/.package-lock.json $(MCP_DIR)/node_modules/.package-lock.json ## Install the pinned npm test peers (node-oidc-provider, openid-client 5 and 6, the MCP SDK).

$(INTEROP_DIR)/node_modules/.package-lock.json: $(INTEROP_DIR)/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix $(INTEROP_DIR) --no-audit --no-fund; \
	else echo "npm not found: node-oidc-provider interop tests will skip (or fail with CI set)"; fi

$(MCP_DIR)/node_modules/.package-lock.json: $(MCP_DIR)/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix $(MCP_DIR) --no-audit --no-fund; \
	else echo "npm not found: MCP client interop tests will skip (or fail with CI set)"; fi

##@ Build

.PHONY: build
build: cli ## Build the manager binary and the command-line tool.
	go build -o $(LOCALBIN)/manager .

.PHONY: cli
cli: ## Build the command-line tool: bin/clientregctl and the kubectl plugin bin/kubectl-clientreg.
	go build -o $(LOCALBIN)/clientregctl ./cmd/clientregctl
	cp $(LOCALBIN)/clientregctl $(LOCALBIN)/kubectl-clientreg

.PHONY: run
run: ## Run the manager against the cluster in $KUBECONFIG.
	go run . --leader-elect=false

.PHONY: demo
demo: test-binaries interop-deps ## Local control plane, node-oidc-provider, the manager and its registration endpoint: stateless ids, a dynamic registration, a live RFC 7591 registration over HTTPS, a token. DEMO_FLAGS=--wait keeps it running.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go run ./hack/demo --samples config/samples --demo-samples hack/demo/samples $(DEMO_FLAGS)

.PHONY: load
load: test-binaries ## Load-test the registration endpoint (stateless and stateful) on a local control plane; LOAD_FLAGS passes flags.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go run ./hack/load $(LOAD_FLAGS)

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)

$(GOLANGCI_LINT): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $(GOLANGCI_LINT)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install the pinned golangci-lint into bin/.
