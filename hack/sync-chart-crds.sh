#!/usr/bin/env bash
# sync-chart-crds.sh copies the CRDs from config/crd/bases into the Helm chart,
# wrapped so that crds.enabled installs them and crds.keep keeps them on
# uninstall (the cert-manager convention).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${CRD_SRC_DIR:-${ROOT}/config/crd/bases}"
DST="${CHART_CRD_DIR:-${ROOT}/charts/clientreg/templates/crds}"
mkdir -p "${DST}"
rm -f "${DST}"/*.yaml
for f in "${SRC}"/*.yaml; do
  name="$(basename "${f}")"
  {
    echo '{{- if .Values.crds.enabled }}'
    # Insert the keep annotation and chart labels under metadata.
    awk '
      /^metadata:$/ && !done {
        print
        print "  labels:"
        print "    {{- include \"clientreg.labels\" . | nindent 4 }}"
        print "  {{- if .Values.crds.keep }}"
        print "  annotations:"
        print "    helm.sh/resource-policy: keep"
        print "  {{- end }}"
        done=1; next
      }
      /^  annotations:$/ && done==1 { inann=1; next }
      inann && /^    / { next }
      { inann=0; print }
    ' "${f}"
    echo '{{- end }}'
  } > "${DST}/${name}"
done
