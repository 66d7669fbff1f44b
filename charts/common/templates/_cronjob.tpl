{{/*
common.cronJob renders a CronJob with its ServiceAccount and NetworkPolicy.
Call: include "common.cronJob" (dict "context" $ "name" "backup" "values" $job)
*/}}
{{- define "common.cronJob" -}}
{{- $job := deepCopy .values -}}
{{- if $job.enabled }}
{{- $_ := set $job "restartPolicy" "OnFailure" -}}
{{- $_ := set $job "terminationGracePeriodSeconds" 30 -}}
{{- $scope := dict "context" .context "name" .name -}}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "common.metadata" $scope | nindent 2 }}
automountServiceAccountToken: false
---
apiVersion: batch/v1
kind: CronJob
metadata:
  {{- include "common.metadata" $scope | nindent 2 }}
  {{- include "common.objectAnnotations" $job | nindent 2 }}
spec:
  schedule: {{ $job.schedule | quote }}
  suspend: {{ $job.suspend }}
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 3
  jobTemplate:
    spec:
      backoffLimit: {{ $job.backoffLimit }}
      activeDeadlineSeconds: {{ $job.activeDeadlineSeconds }}
      template:
        metadata:
          labels:
            {{- include "common.labels" $scope | nindent 12 }}
        spec:
          {{- include "common.podSpec" (dict "context" .context "name" .name "values" $job) | nindent 10 }}
{{- if $job.networkPolicy.enabled }}
---
{{ include "common.networkPolicy" (dict "context" .context "name" .name "values" $job) }}
{{- end }}
{{- end }}
{{- end -}}
