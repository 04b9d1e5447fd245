#!/usr/bin/env bash
# build-test-binaries.sh builds kube-apiserver and etcd from their Go modules at
# pinned versions and caches them under bin/k8s/<version>/, the layout envtest's
# KUBEBUILDER_ASSETS expects. It is idempotent: binaries already built are kept.
#
# Nothing is downloaded except Go modules through the configured module proxy.
set -euo pipefail

KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.37.0}"
STAGING_VERSION="${STAGING_VERSION:-v0.37.0}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/bin/k8s/${KUBERNETES_VERSION#v}-etcd-${ETCD_VERSION#v}"
mkdir -p "${OUT}"

log() { printf '[build-test-binaries] %s\n' "$*" >&2; }

# The version stamps a release build of kube-apiserver gets (kubernetes'
# hack/lib/version.sh): without them it reports v0.0.0-master, which Helm's
# kubeVersion checks and anything reading /version refuse or misread.
version_ldflags() {
  local minor="${KUBERNETES_VERSION#v*.}"
  minor="${minor%%.*}"
  local major="${KUBERNETES_VERSION#v}"
  major="${major%%.*}"
  local flags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X ${pkg}.gitVersion=${KUBERNETES_VERSION}"
    flags+=" -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
    flags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  echo "${flags}"
}

build_apiserver() {
  if [[ -x "${OUT}/kube-apiserver" ]]; then
    if "${OUT}/kube-apiserver" --version 2>/dev/null | grep -qF "Kubernetes ${KUBERNETES_VERSION}"; then
      log "kube-apiserver ${KUBERNETES_VERSION} cached"
      return
    fi
    log "kube-apiserver in ${OUT} has no version stamp: building it again"
  fi
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' RETURN
  log "building kube-apiserver ${KUBERNETES_VERSION} (first time takes several minutes)"
  (
    cd "${work}"
    go mod init clientreg.dev/build/kube-apiserver >/dev/null 2>&1
    go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" >/dev/null
    local modfile
    modfile="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/${KUBERNETES_VERSION}.mod"
    # Every staging module kubernetes replaces with ./staging/... is pinned to
    # its published version instead.
    local replaces=()
    while read -r mod; do
      replaces+=("-replace=${mod}=${mod}@${STAGING_VERSION}")
    done < <(grep -E '=> \./staging/' "${modfile}" | awk '{print $1}')
    go mod edit "-require=k8s.io/kubernetes@${KUBERNETES_VERSION}" "${replaces[@]}"
    cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
    go mod tidy -e >/dev/null 2>&1 || true
    go mod download
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w $(version_ldflags)" -o "${OUT}/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
    mv "${OUT}/kube-apiserver.tmp" "${OUT}/kube-apiserver"
  )
}

build_etcd() {
  if [[ -x "${OUT}/etcd" ]]; then
    log "etcd ${ETCD_VERSION} cached"
    return
  fi
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' RETURN
  log "building etcd ${ETCD_VERSION}"
  (
    cd "${work}"
    go mod init clientreg.dev/build/etcd >/dev/null 2>&1
    cat > main.go <<'GO'
// Command etcd runs the etcd server from its Go module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >/dev/null 2>&1
    go mod tidy >/dev/null 2>&1
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${OUT}/etcd.tmp" .
    mv "${OUT}/etcd.tmp" "${OUT}/etcd"
  )
}

build_etcd
build_apiserver
# Print the directory for KUBEBUILDER_ASSETS.
echo "${OUT}"
