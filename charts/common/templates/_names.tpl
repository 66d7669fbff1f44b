{{/* The environment registry entry, passed as a file: --set-file registry=environments/<env>.yaml */}}
{{- define "common.registry" -}}
{{- required "registry is required: pass --set-file registry=environments/<env>.yaml" .Values.registry | fromYaml | toYaml -}}
{{- end -}}

{{/* Name of one workload: <release>-<component>, or the release alone when they match. */}}
{{- define "common.fullname" -}}
{{- $release := .context.Release.Name -}}
{{- if or (eq .name $release) (eq .name "") -}}
{{- $release | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" $release .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "common.selectorLabels" -}}
app.kubernetes.io/name: {{ .name | default .context.Chart.Name }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
{{- end -}}

{{- define "common.labels" -}}
{{ include "common.selectorLabels" . }}
app.kubernetes.io/part-of: voiceops
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | default .context.Chart.Version | quote }}
helm.sh/chart: {{ printf "%s-%s" .context.Chart.Name .context.Chart.Version }}
{{- $registry := include "common.registry" .context | fromYaml }}
voiceops.io/environment: {{ $registry.name }}
{{- end -}}

{{/* metadata for a namespaced object of one workload */}}
{{- define "common.metadata" -}}
name: {{ include "common.fullname" . }}
namespace: {{ .context.Release.Namespace }}
labels:
  {{- include "common.labels" . | nindent 2 }}
{{- end -}}

{{/* The LiveKit server URL: the given one, or the server in the registry's livekit namespace. */}}
{{- define "common.livekitUrl" -}}
{{- if .url -}}
{{- .url -}}
{{- else -}}
{{- $registry := include "common.registry" .context | fromYaml -}}
{{- $namespace := required "livekit url: this environment has no livekit namespace; set it in a values layer" $registry.namespaces.livekit -}}
{{- printf "ws://livekit-server.%s.svc.cluster.local:7880" $namespace -}}
{{- end -}}
{{- end -}}
