{{/* Chart name, truncated to a label's 63 characters. */}}
{{- define "shifter.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the Helm release name, prefixed with the chart's when it lacks it. */}}
{{- define "shifter.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount shifter runs as. */}}
{{- define "shifter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "shifter.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Namespace of the release's objects (and of the Job and Role). */}}
{{- define "shifter.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{/* One Job per install/upgrade: a new revision is a new rollout. */}}
{{- define "shifter.jobName" -}}
{{- printf "%s-%s-r%d" (include "shifter.fullname" . | trunc 40 | trimSuffix "-") .Values.release .Release.Revision | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Environment variable carrying the URL of the webhook at index I. */}}
{{- define "shifter.notifyEnv" -}}
{{- printf "SHIFTER_NOTIFY_URL_%d" . -}}
{{- end -}}

{{- define "shifter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "shifter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
shifter.io/release: {{ .Values.release | quote }}
{{- end -}}

{{- define "shifter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shifter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
