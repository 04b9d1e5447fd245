{{/* Chart name. */}}
{{- define "clientreg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name, the prefix of every object the chart creates. A release
named "clientreg" (the documented install) gives "clientreg", so the objects
have the same names as the kustomize installation in config/default.
*/}}
{{- define "clientreg.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Common labels. */}}
{{- define "clientreg.labels" -}}
app.kubernetes.io/name: {{ include "clientreg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Labels that select the manager's pods. */}}
{{- define "clientreg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clientreg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller-manager
{{- end }}

{{/* The manager's ServiceAccount. */}}
{{- define "clientreg.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller-manager" (include "clientreg.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The manager image: repository@digest or repository:tag (tag defaults to appVersion). */}}
{{- define "clientreg.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Namespace of the key Secrets of ClusterAuthorizationServers. */}}
{{- define "clientreg.clusterResourceNamespace" -}}
{{- default .Release.Namespace .Values.clusterResourceNamespace }}
{{- end }}

{{/*
Namespaces of --secret-namespaces, comma-separated: rbac.secretNamespaces,
the release namespace (webhook certificate, registration TLS Secret) and the
cluster resource namespace. Empty when rbac.secretNamespaces is (every
namespace).
*/}}
{{- define "clientreg.secretNamespaces" -}}
{{- if .Values.rbac.secretNamespaces }}
{{- concat .Values.rbac.secretNamespaces (list .Release.Namespace (include "clientreg.clusterResourceNamespace" .)) | uniq | join "," }}
{{- end }}
{{- end }}

{{/*
Webhook names. The manager's certificate rotator finds the Service, the
Secret and the two configurations by these fixed names (webhook/v1alpha1),
so they do not follow fullname; test/install checks they agree.
*/}}
{{- define "clientreg.webhookServiceName" -}}
clientreg-webhook-service
{{- end }}
{{- define "clientreg.webhookSecretName" -}}
clientreg-webhook-tls
{{- end }}
{{- define "clientreg.webhookCertificateName" -}}
{{- printf "%s-webhook-cert" (include "clientreg.fullname" .) }}
{{- end }}

{{/* Manager flags of the admission webhooks. */}}
{{- define "clientreg.webhookArgs" -}}
{{- if .Values.webhook.enabled }}
- --enable-webhooks=true
- --webhook-port={{ .Values.webhook.port }}
- --webhook-cert-dir=/var/run/clientreg/webhook-tls
- --webhook-cert-management={{ ternary "self" "external" (eq .Values.webhook.certManagement "self") }}
{{- else }}
- --enable-webhooks=false
{{- end }}
{{- end }}
