# Argo CD's cluster Secret for the cluster it runs in, carrying the stack's connection facts as
# annotations: the bootstrap ApplicationSets (kustomize/argocd/) select it by label and patch
# each fact into the Applications that take it (charts/connections.yaml).
resource "kubernetes_secret_v1" "this" {
  metadata {
    name      = "voiceops-in-cluster"
    namespace = var.argocd_namespace
    labels = {
      "argocd.argoproj.io/secret-type" = "cluster"
      "voiceops.io/connections"        = "true"
    }
    annotations = { for fact, value in var.connection_facts : "connections.voiceops.io/${fact}" => value }
  }
  data = {
    name   = "in-cluster"
    server = "https://kubernetes.default.svc"
  }
}
