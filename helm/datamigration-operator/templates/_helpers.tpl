{{/* The chart's name, or nameOverride. */}}
{{- define "datamigration-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: the release name when it already contains the chart's. */}}
{{- define "datamigration-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "datamigration-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "datamigration-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "datamigration-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "datamigration-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: datamigration-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "datamigration-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "datamigration-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator's image: repository@digest, else repository:tag (default appVersion). */}}
{{- define "datamigration-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "datamigration-operator.ha" -}}
{{- if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{- define "datamigration-operator.peeringName" -}}
{{- default (include "datamigration-operator.fullname" .) .Values.peering.name }}
{{- end }}

{{/*
Cluster-scoped reads kopf needs in both install modes: it discovers and watches the CRD, and
lists/watches namespaces (to serve the ones it was started for).
*/}}
{{- define "datamigration-operator.clusterRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
{{- end }}

{{/*
What the operator does in a namespace it serves (the same rules as manifests/base/operator-rbac.yaml,
which tests/unit/kube/test_manifests.py derives from the code). Secrets are apart: see
rbac.secretReadNamespaces in values.yaml.
*/}}
{{- define "datamigration-operator.namespacedRules" -}}
# DataMigrations: watched; patched for kopf's annotations and finalizer; status written.
- apiGroups: [migrations.gremlins.ai]
  resources: [datamigrations]
  verbs: [get, list, watch, patch]
- apiGroups: [migrations.gremlins.ai]
  resources: [datamigrations/status]
  verbs: [get, patch]
# The copy/sync/validate Jobs it launches and deletes (rollback).
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
# The app's ConfigMap (one key) and workloads (pod template annotation). create: the operator
# never creates one itself, but it grants its Jobs create on configmaps (their reports), and a
# Role may only grant what its creator holds (no bind or escalate here).
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, patch, create]
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, list, watch, patch]
# The source claim; pods: the one holding a ReadWriteOnce claim (Job node affinity), failed
# Job pods (termination message) and the app workloads' pods (a mode is applied only once no
# pod of the old one is left, terminating ones included).
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get]
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
# Per DataMigration, a ServiceAccount, Role and RoleBinding for its Jobs (owned by it).
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, create]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, create]
{{- end }}

{{- define "datamigration-operator.secretRules" -}}
# Referenced Secrets: existence and key names only (values are never kept or logged).
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}
