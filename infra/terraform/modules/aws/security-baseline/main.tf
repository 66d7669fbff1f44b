data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  trail_bucket     = "${var.name}-cloudtrail-${data.aws_caller_identity.current.account_id}"
  trail_bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${local.trail_bucket}"
}

data "aws_iam_policy_document" "trail_bucket" {
  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [local.trail_bucket_arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }
  statement {
    sid       = "CloudTrailWrite"
    actions   = ["s3:PutObject"]
    resources = ["${local.trail_bucket_arn}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }
}

module "trail_bucket" {
  source = "../bucket"
  count  = var.enable_cloudtrail ? 1 : 0

  name              = local.trail_bucket
  kms_key_arn       = var.kms_key_arn
  access_log_bucket = var.access_log_bucket
  lifecycle_rules   = { glacier_days = 90, expire_days = 2555 }
  policy_documents  = [data.aws_iam_policy_document.trail_bucket.json]
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "trail" {
  count = var.enable_cloudtrail ? 1 : 0

  name              = "/aws/cloudtrail/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "trail_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "trail" {
  count = var.enable_cloudtrail ? 1 : 0

  name               = "${var.name}-cloudtrail"
  assume_role_policy = data.aws_iam_policy_document.trail_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "trail" {
  count = var.enable_cloudtrail ? 1 : 0

  role = aws_iam_role.trail[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${aws_cloudwatch_log_group.trail[0].arn}:*"
    }]
  })
}

resource "aws_sns_topic" "trail" {
  count = var.enable_cloudtrail ? 1 : 0

  name              = "${var.name}-cloudtrail"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudtrail" "this" {
  count = var.enable_cloudtrail ? 1 : 0

  name                          = "${var.name}-trail"
  s3_bucket_name                = module.trail_bucket[0].id
  kms_key_id                    = var.kms_key_arn
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.trail[0].arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.trail[0].arn
  sns_topic_name                = aws_sns_topic.trail[0].name

  event_selector {
    read_write_type           = "All"
    include_management_events = true
  }

  tags       = var.tags
  depends_on = [module.trail_bucket]
}

resource "aws_guardduty_detector" "this" {
  # checkov:skip=CKV2_AWS_3:each environment is its own account and region; an organization-wide delegated administrator is set up outside this repository
  count = var.enable_guardduty ? 1 : 0

  enable                       = true
  finding_publishing_frequency = "FIFTEEN_MINUTES"
  tags                         = var.tags
}

resource "aws_guardduty_detector_feature" "this" {
  for_each = var.enable_guardduty ? toset(["EKS_AUDIT_LOGS", "RUNTIME_MONITORING", "S3_DATA_EVENTS", "RDS_LOGIN_EVENTS"]) : toset([])

  detector_id = aws_guardduty_detector.this[0].id
  name        = each.key
  status      = "ENABLED"

  dynamic "additional_configuration" {
    for_each = each.key == "RUNTIME_MONITORING" ? ["EKS_ADDON_MANAGEMENT"] : []
    content {
      name   = additional_configuration.value
      status = "ENABLED"
    }
  }
}

resource "aws_securityhub_account" "this" {
  count = var.enable_security_hub ? 1 : 0

  enable_default_standards = false
  auto_enable_controls     = true
}

resource "aws_securityhub_standards_subscription" "foundational" {
  count = var.enable_security_hub ? 1 : 0

  standards_arn = "arn:${data.aws_partition.current.partition}:securityhub:${data.aws_region.current.region}::standards/aws-foundational-security-best-practices/v/1.0.0"
  depends_on    = [aws_securityhub_account.this]
}
