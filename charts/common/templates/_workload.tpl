{{/*
common.workload renders one service: ServiceAccount, Deployment, Service, HPA, PDB,
ServiceMonitor and NetworkPolicy.
Call: include "common.workload" (dict "context" $ "name" "api" "values" $values)
*/}}
{{- define "common.workload" -}}
{{- $w := .values -}}
{{- if $w.enabled }}
{{- $ctx := .context -}}
{{- $registry := include "common.registry" $ctx | fromYaml -}}
{{- $scope := dict "context" $ctx "name" .name -}}
{{- $fullname := include "common.fullname" $scope -}}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "common.metadata" $scope | nindent 2 }}
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "common.metadata" $scope | nindent 2 }}
  {{- include "common.objectAnnotations" (merge (dict "reloadSecret" $w.existingSecret) $w) | nindent 2 }}
spec:
  {{- if not $w.autoscaling.enabled }}
  replicas: {{ $w.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "common.selectorLabels" $scope | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "common.labels" $scope | nindent 8 }}
      {{- with $w.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      {{- include "common.podSpec" (dict "context" $ctx "name" .name "values" $w) | nindent 6 }}
{{- if $w.service.enabled }}
---
apiVersion: v1
kind: Service
metadata:
  {{- include "common.metadata" $scope | nindent 2 }}
spec:
  type: ClusterIP
  selector:
    {{- include "common.selectorLabels" $scope | nindent 4 }}
  ports:
    {{- range $name, $port := $w.ports }}
    - name: {{ $name }}
      port: {{ $port }}
      targetPort: {{ $name }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- if $w.autoscaling.enabled }}
{{- $auto := $registry.autoscaling }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "common.metadata" $scope | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $fullname }}
  minReplicas: {{ $w.autoscaling.minReplicas | default $auto.min_replicas }}
  maxReplicas: {{ $w.autoscaling.maxReplicas | default $auto.max_replicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $w.autoscaling.cpuTargetPercent | default $auto.cpu_target_percent }}
    {{- if not $w.autoscaling.cpuOnly }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ $w.autoscaling.memoryTargetPercent | default $auto.memory_target_percent }}
    {{- end }}
    {{- range $w.autoscaling.customMetrics }}
    # served by prometheus-adapter from Prometheus
    - type: Pods
      pods:
        metric:
          name: {{ .name }}
        target:
          type: AverageValue
          averageValue: {{ .targetAverageValue | quote }}
    {{- end }}
  behavior:
    {{- toYaml $w.autoscaling.behavior | nindent 4 }}
{{- end }}
{{- if $w.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "common.metadata" $scope | nindent 2 }}
spec:
  minAvailable: {{ $w.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "common.selectorLabels" $scope | nindent 6 }}
{{- end }}
{{- if and $w.serviceMonitor.enabled $w.service.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ $fullname }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "common.labels" $scope | nindent 4 }}
    # kube-prometheus-stack only selects monitors carrying its release label
    release: {{ $ctx.Values.monitoring.prometheusRelease }}
spec:
  selector:
    matchLabels:
      {{- include "common.selectorLabels" $scope | nindent 6 }}
  endpoints:
    - port: {{ $w.serviceMonitor.port }}
      path: {{ $w.serviceMonitor.path }}
      interval: {{ $w.serviceMonitor.interval }}
{{- end }}
{{- if $w.networkPolicy.enabled }}
---
{{ include "common.networkPolicy" (dict "context" $ctx "name" .name "values" $w) }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The pod spec shared by Deployments, Jobs and CronJobs. */}}
{{- define "common.podSpec" -}}
{{- $w := .values -}}
{{- $ctx := .context -}}
{{- $scope := dict "context" $ctx "name" .name -}}
serviceAccountName: {{ include "common.fullname" $scope }}
automountServiceAccountToken: false
{{- with $w.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if $w.hostNetwork }}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
terminationGracePeriodSeconds: {{ $w.terminationGracePeriodSeconds }}
securityContext:
  {{- include "common.podSecurityContext" $w | nindent 2 }}
{{- with $w.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $w.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if or $w.affinity $w.onePerNode }}
affinity:
  {{- with $w.affinity }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- if $w.onePerNode }}
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "common.selectorLabels" $scope | nindent 12 }}
  {{- end }}
{{- end }}
{{- if $w.topologySpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "common.selectorLabels" $scope | nindent 8 }}
{{- end }}
{{- with $w.restartPolicy }}
restartPolicy: {{ . }}
{{- end }}
containers:
  - name: {{ .name }}
    image: {{ include "common.image" (dict "context" $ctx "image" $w.image) }}
    imagePullPolicy: Always
    {{- with $w.command }}
    command:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $w.args }}
    args:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if $w.env }}
    env:
      {{- range $key, $value := $w.env }}
      - name: {{ $key }}
        value: {{ $value | quote }}
      {{- end }}
    {{- end }}
    {{- if $w.ports }}
    ports:
      {{- range $name, $port := $w.ports }}
      - name: {{ $name }}
        containerPort: {{ $port }}
        protocol: TCP
      {{- end }}
      {{- range $w.extraPorts }}
      - name: {{ .name }}
        containerPort: {{ .containerPort }}
        protocol: {{ .protocol }}
      {{- end }}
    {{- end }}
    {{- if $w.probes }}
    livenessProbe:
      {{- include "common.probe" $w.probes.liveness | nindent 6 }}
    readinessProbe:
      {{- include "common.probe" $w.probes.readiness | nindent 6 }}
    {{- end }}
    resources:
      requests:
        {{- toYaml $w.resources.requests | nindent 8 }}
      limits:
        {{- toYaml $w.resources.limits | nindent 8 }}
        {{- if $w.gpu }}
        nvidia.com/gpu: {{ $w.gpu }}
        {{- end }}
    securityContext:
      {{- include "common.containerSecurityContext" $w | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- if $w.existingSecret }}
      # secrets as files, never as environment variables (seed 002)
      - name: secrets
        mountPath: /var/run/secrets/voiceops
        readOnly: true
      {{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $w.tmpSize }}
  {{- if $w.existingSecret }}
  - name: secrets
    secret:
      secretName: {{ $w.existingSecret }}
  {{- end }}
{{- end -}}

{{- define "common.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end -}}

{{/* registry/repository:tag, or @digest when one is pinned; an upstream image names its registry */}}
{{- define "common.image" -}}
{{- $registry := .image.registry | default .context.Values.imageRegistry -}}
{{- if .image.digest -}}
{{- printf "%s/%s@%s" $registry .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s/%s:%s" $registry .image.repository (.image.tag | default .context.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
A workload object's annotations. Inline, reasoned scanner suppressions: checkov.io/skipN:
ID=reason. An image of ours without a digest is exempt from the digest check because our
registry's tags are immutable and the release pipeline writes image.digest when it promotes
a build; an upstream image (image.registry) gives its own reason in scannerExceptions.
reloadSecret (a Deployment's mounted Secret) adds Reloader's annotation naming it: External
Secrets and the Sealed Secrets controller rewrite it in place on rotation, which no checksum
of the rendered chart sees. CronJobs go without: each run mounts the current Secret.
*/}}
{{- define "common.objectAnnotations" -}}
{{- $exceptions := deepCopy (default dict .scannerExceptions) -}}
{{- if and (not .image.digest) (not .image.registry) -}}
{{- $_ := set $exceptions "CKV_K8S_43" "tags in the platform registry are immutable; promotion pins image.digest" -}}
{{- end -}}
{{- if or $exceptions .reloadSecret -}}
annotations:
  {{- $index := 0 }}
  {{- range $id, $reason := $exceptions }}
  {{- $index = add1 $index }}
  checkov.io/skip{{ $index }}: {{ printf "%s=%s" $id $reason | quote }}
  {{- end }}
  {{- with .reloadSecret }}
  secret.reloader.stakater.com/reload: {{ . | quote }}
  {{- end }}
{{- end -}}
{{- end -}}
