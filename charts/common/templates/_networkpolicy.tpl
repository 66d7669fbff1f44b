{{/*
Explicit allows on top of the namespace's default-deny (charts/base): the service's
ports from its own namespace, from the ingress controller's namespace when it is
exposed, and its metrics port from the monitoring namespace; egress to DNS, to its
own namespace and to the listed ports (managed databases, brokers, external APIs).
*/}}
{{- define "common.networkPolicy" -}}
{{- $w := .values -}}
{{- $scope := dict "context" .context "name" .name -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "common.metadata" $scope | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "common.selectorLabels" $scope | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- if $w.ports }}
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/part-of: voiceops
        {{- if $w.networkPolicy.allowFromIngress }}
        - namespaceSelector:
            matchLabels:
              voiceops.io/role-system: "true"
        {{- end }}
      ports:
        {{- range $name, $port := $w.ports }}
        - port: {{ $port }}
          protocol: TCP
        {{- end }}
    {{- end }}
    {{- if dig "serviceMonitor" "enabled" false $w }}
    - from:
        - namespaceSelector:
            matchLabels:
              voiceops.io/role-observability: "true"
      ports:
        - port: {{ $w.serviceMonitor.port }}
          protocol: TCP
    {{- end }}
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
      ports:
        - {port: 53, protocol: UDP}
        - {port: 53, protocol: TCP}
    - to:
        - podSelector: {}
    {{- if $w.networkPolicy.egressPorts }}
    - ports:
        {{- range $w.networkPolicy.egressPorts }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- end }}
{{- end -}}
