# Seed 003's recovery region: an RDS cross-region read replica and S3 cross-region
# replication of the recordings, in a network of its own. The cluster there is
# rebuilt from this repository by the DR runbook (RTO 4 h leaves room for it).
module "dr_kms" {
  source    = "../kms-key"
  count     = local.has_dr ? 1 : 0
  providers = { aws = aws.disaster_recovery }

  alias              = "${module.context.prefix}-recovery"
  description        = "${module.context.prefix}: replicas in the recovery region"
  service_principals = ["s3.amazonaws.com", "rds.amazonaws.com", "logs.${coalesce(local.recovery, "none")}.amazonaws.com"]
  tags               = local.tags
}

module "dr_network" {
  source    = "../network"
  count     = local.has_dr ? 1 : 0
  providers = { aws = aws.disaster_recovery }

  name = "${local.names.vpc}-recovery"
  cidr = module.context.disaster_recovery.network_cidr
  # Same shape as the primary (seed 003): /24 public at .1-.3, private at .10/.20/.30.
  subnets = {
    public  = [for index in [1, 2, 3] : cidrsubnet(module.context.disaster_recovery.network_cidr, 8, index)]
    private = [for index in [10, 20, 30] : cidrsubnet(module.context.disaster_recovery.network_cidr, 8, index)]
  }
  cluster_name = "${module.context.cluster.name}-recovery"
  kms_key_arn  = module.dr_kms[0].arn
  tags         = local.tags
}

# The buckets whose copies the recovery region keeps: the recordings, and Velero's backups
# (velero.tf), from which a cluster rebuilt there restores.
locals {
  replicated_buckets = local.has_dr ? {
    egress = { name = "${local.names.egress_bucket}-replica-${local.account_id}", lifecycle_rules = { glacier_days = 90, expire_days = 365 } }
    velero = { name = "${local.velero_location.bucket}-replica", lifecycle_rules = {} }
  } : {}
}

module "recovery_replica" {
  source    = "../bucket"
  for_each  = local.replicated_buckets
  providers = { aws = aws.disaster_recovery }

  name            = each.value.name
  kms_key_arn     = module.dr_kms[0].arn
  lifecycle_rules = each.value.lifecycle_rules
  force_destroy   = !local.production
  tags            = local.tags
}

moved {
  from = module.egress_replica[0]
  to   = module.recovery_replica["egress"]
}

module "postgresql_replica" {
  source    = "../postgresql-replica"
  count     = local.has_dr ? 1 : 0
  providers = { aws = aws.disaster_recovery }

  name          = "${local.names.postgresql}-replica"
  source_db_arn = module.postgresql.arn
  subnet_ids    = module.dr_network[0].private_subnet_ids
  vpc_id        = module.dr_network[0].vpc_id
  allowed_cidrs = [module.context.disaster_recovery.network_cidr]
  kms_key_arn   = module.dr_kms[0].arn
  tags          = local.tags

  monitoring_role_arn = module.postgresql.monitoring_role_arn
}
