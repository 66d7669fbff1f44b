# Loki keeps chunks, ruler rules and admin state in the buckets its values file names (the one
# place they are written); its pods reach them through the loki service account's role.
locals {
  loki_buckets = yamldecode(file("${var.stack_dir}/../../../../../charts/values/${var.environment}/loki.yaml")).loki.storage.bucketNames
}

module "loki_bucket" {
  source   = "../bucket"
  for_each = local.loki_buckets

  name              = each.value
  kms_key_arn       = module.kms["platform"].arn
  access_log_bucket = module.access_logs.id
  # Loki's compactor deletes what is past the retention period; the bucket keeps no lifecycle
  # of its own that could drop chunks the index still names.
  force_destroy = !local.production
  tags          = local.tags
}

data "aws_iam_policy_document" "loki_storage" {
  statement {
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = [for bucket in module.loki_bucket : "${bucket.arn}/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [for bucket in module.loki_bucket : bucket.arn]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [module.kms["platform"].arn]
  }
}
