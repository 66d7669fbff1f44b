locals {
  base    = "${var.workload}-${var.stage}"
  compact = "${var.workload}${var.stage}"

  # Azure resource abbreviations of the Cloud Adoption Framework, as seed 004 names them.
  azure = {
    resource_group       = "rg-${local.base}-${var.region}"
    virtual_network      = "vnet-${local.base}"
    kubernetes_cluster   = "aks-${local.base}"
    postgresql           = "psql-${local.base}"
    redis                = "redis-${local.base}"
    storage_account      = "st${local.compact}"
    key_vault            = "kv-${local.base}"
    container_registry   = "acr${local.compact}"
    application_gateway  = "appgw-${local.base}"
    waf_policy           = "waf-${local.base}"
    livekit_balancer     = "lb-livekit-${var.stage}"
    application_insights = "appi-${local.base}"
    log_analytics        = "log-${local.base}"
    traffic_manager      = "traf-${local.base}"
  }

  aws = {
    vpc           = local.base
    eks_cluster   = "eks-${local.base}"
    redis         = "${local.base}-redis"
    postgresql    = "${local.base}-postgresql"
    egress_bucket = "${local.base}-livekit-egress"
    kafka         = "${local.base}-kafka"
    opensearch    = "${local.base}-search"
    web_acl       = "${local.base}-alb"
    trail         = "${local.base}-trail"
  }

  linode = {
    cluster  = "lke-${var.workload}"
    firewall = "${var.workload}-nodes"
    database = "${local.base}-pg"
    bucket   = "${local.base}"
  }

  names = var.cloud == "azure" ? local.azure : var.cloud == "aws" ? local.aws : local.linode

  tags = merge(var.extra_tags, {
    project     = var.workload
    environment = var.environment
    managed-by  = "terraform"
    repository  = "voiceops"
  })
}
