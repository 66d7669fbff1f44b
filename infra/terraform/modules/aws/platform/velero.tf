# Velero's backups of cluster state: the bucket its values file names as the backup location
# (charts/values/<environment>/velero.yaml, the one place the name is written), reached through
# the velero service account's role (module.eks workload_roles). With a recovery region the
# bucket replicates there, so a cluster rebuilt in that region restores from the copy (seed 003).
locals {
  velero_location = one(yamldecode(file("${var.stack_dir}/../../../../../charts/values/${var.environment}/velero.yaml")).configuration.backupStorageLocation)
}

module "velero_bucket" {
  source = "../bucket"

  name              = local.velero_location.bucket
  kms_key_arn       = module.kms["platform"].arn
  access_log_bucket = module.access_logs.id
  # no expiry rule: backups expire through their schedule's TTL, which Velero applies itself
  replication = local.has_dr ? {
    destination_bucket_arn  = module.recovery_replica["velero"].arn
    destination_kms_key_arn = one(module.dr_kms[*].arn)
  } : null
  force_destroy = !local.production
  tags          = local.tags
}

# What Velero's object store plugin does with its bucket: read, write and delete backups, list them.
data "aws_iam_policy_document" "velero_backups" {
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${module.velero_bucket.arn}/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [module.velero_bucket.arn]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [module.kms["platform"].arn]
  }
}
