# One AWS environment (seeds 000 and 003): network, EKS Auto Mode, data stores,
# edge, security services, the recovery region, and the catalog's Helm releases.
module "context" {
  source = "../../logic/stack-context"

  environment = var.environment
  stack_dir   = var.stack_dir
}

locals {
  names       = module.context.names
  tags        = module.context.tags
  production  = module.context.production_class
  recovery    = module.context.regions.disaster_recovery
  has_dr      = local.recovery != null
  account_id  = data.aws_caller_identity.current.account_id
  primary     = module.context.regions.primary
  cluster_sgs = [module.eks.cluster_security_group_id]
}

data "aws_caller_identity" "current" {}

module "kms" {
  source   = "../kms-key"
  for_each = toset(["platform", "logs"])

  alias       = "${module.context.prefix}-${each.key}"
  description = "${module.context.prefix}: ${each.key == "logs" ? "CloudWatch logs, CloudTrail and SNS" : "data stores, secrets and buckets"}"
  service_principals = each.key == "logs" ? [
    "logs.${local.primary}.amazonaws.com", "cloudtrail.amazonaws.com", "delivery.logs.amazonaws.com", "sns.amazonaws.com",
  ] : ["s3.amazonaws.com", "rds.amazonaws.com", "elasticache.amazonaws.com"]
  tags = local.tags
}

module "network" {
  source = "../network"

  name               = local.names.vpc
  cidr               = module.context.network.cidr
  availability_zones = module.context.network.availability_zones
  subnets = {
    public  = module.context.network.subnets.public
    private = module.context.network.subnets.private
  }
  cluster_name = module.context.cluster.name
  kms_key_arn  = module.kms["logs"].arn
  tags         = local.tags
}

module "egress_bucket" {
  source = "../bucket"

  name              = "${local.names.egress_bucket}-${local.account_id}"
  kms_key_arn       = module.kms["platform"].arn
  access_log_bucket = module.access_logs.id
  # Recordings: infrequent access after 30 days, Glacier after 90, gone after a year.
  lifecycle_rules = { infrequent_access_days = 30, glacier_days = 90, expire_days = 365 }
  replication = local.has_dr ? {
    destination_bucket_arn  = module.recovery_replica["egress"].arn
    destination_kms_key_arn = one(module.dr_kms[*].arn)
  } : null
  force_destroy = !local.production
  tags          = local.tags
}

module "access_logs" {
  source = "../bucket"

  # checkov reads this module's access_log_bucket = null: a log bucket does not log into itself.
  name            = "${module.context.prefix}-access-logs-${local.account_id}"
  kms_key_arn     = module.kms["platform"].arn
  lifecycle_rules = { glacier_days = 90, expire_days = 730 }
  force_destroy   = !local.production
  tags            = local.tags
}

module "eks" {
  source = "../eks"

  name                 = module.context.cluster.name
  kubernetes_version   = module.context.cluster.kubernetes_version
  subnet_ids           = module.network.private_subnet_ids
  secrets_kms_key_arn  = module.kms["platform"].arn
  logs_kms_key_arn     = module.kms["logs"].arn
  admin_principal_arns = var.admin_principal_arns
  deletion_protection  = local.production
  # the registry's public sources, if any; delivery itself runs inside the VPC
  public_endpoint_cidrs = module.context.cluster.api_access.allowed_cidrs
  workload_roles = {
    livekit-egress = {
      namespace       = module.context.namespaces.livekit
      service_account = "livekit-egress"
      policy_json     = data.aws_iam_policy_document.egress_writer.json
    }
    external-secrets = {
      namespace       = module.context.namespaces.system
      service_account = "external-secrets"
      policy_json     = data.aws_iam_policy_document.secrets_reader.json
    }
    loki = {
      namespace       = module.context.namespaces.observability
      service_account = "loki"
      policy_json     = data.aws_iam_policy_document.loki_storage.json
    }
    velero = {
      namespace       = module.context.namespaces.system
      service_account = "velero"
      policy_json     = data.aws_iam_policy_document.velero_backups.json
    }
  }
  tags = local.tags
}

data "aws_iam_policy_document" "egress_writer" {
  statement {
    actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${module.egress_bucket.arn}/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [module.egress_bucket.arn]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [module.kms["platform"].arn]
  }
}

data "aws_iam_policy_document" "secrets_reader" {
  statement {
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    # the entries above: voiceops/<environment>/<secret>, for each environment on the cluster
    resources = [
      for environment in distinct([for item in module.context.store_entries : item.environment]) :
      "arn:aws:secretsmanager:${local.primary}:${local.account_id}:secret:voiceops/${environment}/*"
    ]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [module.kms["platform"].arn]
  }
}

module "redis" {
  source = "../redis"

  name                      = local.names.redis
  subnet_ids                = module.network.private_subnet_ids
  vpc_id                    = module.network.vpc_id
  client_security_group_ids = local.cluster_sgs
  kms_key_arn               = module.kms["platform"].arn
  tags                      = local.tags
}

module "postgresql" {
  source = "../postgresql"

  name                      = local.names.postgresql
  subnet_ids                = module.network.private_subnet_ids
  vpc_id                    = module.network.vpc_id
  client_security_group_ids = local.cluster_sgs
  kms_key_arn               = module.kms["platform"].arn
  deletion_protection       = local.production
  tags                      = local.tags
}

module "kafka" {
  source = "../kafka"

  name                      = local.names.kafka
  subnet_ids                = module.network.private_subnet_ids
  vpc_id                    = module.network.vpc_id
  client_security_group_ids = local.cluster_sgs
  kms_key_arn               = module.kms["platform"].arn
  tags                      = local.tags
}

resource "aws_iam_role" "search_admin" {
  name = "${module.context.prefix}-search-admin"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = "arn:aws:iam::${local.account_id}:root" } }]
  })
  tags = local.tags
}

module "opensearch" {
  source = "../opensearch"

  name                      = local.names.opensearch
  subnet_ids                = module.network.private_subnet_ids
  vpc_id                    = module.network.vpc_id
  client_security_group_ids = local.cluster_sgs
  master_role_arn           = aws_iam_role.search_admin.arn
  kms_key_arn               = module.kms["platform"].arn
  tags                      = local.tags
}

module "ecr" {
  source = "../ecr"

  prefix       = module.context.prefix
  repositories = ["agent-service", "sip-service", "api-rest", "api-graphql", "temporal-worker-go", "temporal-worker-python", "voice", "text", "media-processing", "integrations", "tts", "vad", "analytics-rollup"]
  kms_key_arn  = module.kms["platform"].arn
  tags         = local.tags
}

module "secrets" {
  source = "../secrets"

  # one entry per bundle secret of this environment and of those its cluster hosts (secrets/bundles/)
  secrets     = { for entry, item in module.context.store_entries : entry => item.description }
  kms_key_arn = module.kms["platform"].arn
  tags        = local.tags
}

module "alb_waf" {
  source = "../waf"

  name        = local.names.web_acl
  kms_key_arn = module.kms["logs"].arn
  tags        = local.tags
}

module "security" {
  source = "../security-baseline"

  name              = module.context.prefix
  kms_key_arn       = module.kms["logs"].arn
  access_log_bucket = module.access_logs.id
  tags              = local.tags
}

module "edge_kms" {
  source    = "../kms-key"
  providers = { aws = aws.us_east_1 }

  alias              = "${module.context.prefix}-edge"
  description        = "${module.context.prefix}: CloudFront, WAF and DNS query logs"
  service_principals = ["logs.us-east-1.amazonaws.com", "delivery.logs.amazonaws.com"]
  tags               = local.tags
}

module "edge" {
  source    = "../edge"
  providers = { aws = aws, aws.us_east_1 = aws.us_east_1 }

  name               = module.context.prefix
  zone_name          = module.context.terraform.dns_zone
  hosts              = values(module.context.entry_hosts)
  origin_domain_name = local.entry_alb_dns_name
  kms_key_arn        = module.edge_kms.arn
  tags               = local.tags
}
