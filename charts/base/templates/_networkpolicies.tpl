{{/*
Seed 002: default-deny in every namespace, then explicit allows: DNS, traffic
inside the namespace, and per role what the role's add-ons need.
*/}}
{{- define "base.networkPolicies" -}}
{{- $labels := include "common.labels" (dict "context" .context "name" "base") -}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: {{ .namespace }}
  labels:
    {{- $labels | nindent 4 }}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns-and-namespace
  namespace: {{ .namespace }}
  labels:
    {{- $labels | nindent 4 }}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector: {}
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
{{- if has "system" .roles }}
---
# ingress-nginx and the admission webhooks of the operators take traffic from
# outside; controllers reach the API server and cloud APIs
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-system-traffic
  namespace: {{ .namespace }}
  labels:
    {{- $labels | nindent 4 }}
  annotations:
    # seed 002: egress is controlled; a policy that opens it all says why
    voiceops.io/egress-reason: "operators and controllers call the API server, cloud APIs and ACME endpoints, whose addresses are not stable"
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
    - ports:
        - {port: 80, protocol: TCP}
        - {port: 443, protocol: TCP}
        - {port: 8443, protocol: TCP}
        - {port: 9443, protocol: TCP}
        - {port: 10250, protocol: TCP}
  egress:
    - {}
{{- end }}
{{- if has "observability" .roles }}
---
# Prometheus scrapes every namespace; collectors receive logs and traces from all
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-observability-traffic
  namespace: {{ .namespace }}
  labels:
    {{- $labels | nindent 4 }}
  annotations:
    # seed 002: egress is controlled; a policy that opens it all says why
    voiceops.io/egress-reason: "scrapers reach every namespace and exporters ship to object storage and alert receivers outside the cluster"
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - namespaceSelector: {}
      ports:
        - {port: 3100, protocol: TCP}
        - {port: 4317, protocol: TCP}
        - {port: 4318, protocol: TCP}
        - {port: 3000, protocol: TCP}
  egress:
    - {}
{{- end }}
{{- if has "livekit" .roles }}
---
# media servers: signalling from the ingress controller and the agents, media from anywhere
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-media-traffic
  namespace: {{ .namespace }}
  labels:
    {{- $labels | nindent 4 }}
  annotations:
    # seed 002: egress is controlled; a policy that opens it all says why
    voiceops.io/egress-reason: "media servers send RTP to any caller and SIP trunk on the internet, and TURN relays to any peer"
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
    - ports:
        - {port: 7880, protocol: TCP}
        - {port: 7881, protocol: TCP}
        - {port: 3478, protocol: UDP}
        - {port: 5060, protocol: UDP}
        - {port: 5060, protocol: TCP}
        - {port: 10000, endPort: 20000, protocol: UDP}
        - {port: 50000, endPort: 60000, protocol: UDP}
  egress:
    - {}
{{- end }}
{{- end -}}
