# Entries only: values never pass through Terraform state.
resource "aws_secretsmanager_secret" "this" {
  # checkov:skip=CKV2_AWS_57:rotation follows each bundle's strategy and period (secrets/bundles/), not a Lambda
  for_each = var.secrets

  name                    = each.key
  description             = each.value
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}
