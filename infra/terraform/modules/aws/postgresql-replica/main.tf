# Cross-region read replica in the recovery region (seed 003: RPO 15 minutes; the
# replica lags by seconds). Promoting it is the database step of the DR runbook.
resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

module "access" {
  source = "../client-access"

  name         = "${var.name}-postgresql"
  description  = "PostgreSQL 5432 from the recovery network only"
  vpc_id       = var.vpc_id
  port         = 5432
  client_cidrs = var.allowed_cidrs
  tags         = var.tags
}

resource "aws_db_instance" "this" {
  identifier          = var.name
  replicate_source_db = var.source_db_arn
  instance_class      = var.instance_class

  storage_encrypted      = true
  kms_key_id             = var.kms_key_arn
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [module.access.security_group_id]
  publicly_accessible    = false
  # Multi-AZ like the primary, so a promoted replica is as available as the database it replaces.
  multi_az = true

  backup_retention_period               = var.backup_retention_days
  copy_tags_to_snapshot                 = true
  deletion_protection                   = true
  skip_final_snapshot                   = false
  final_snapshot_identifier             = "${var.name}-final"
  iam_database_authentication_enabled   = true
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = var.monitoring_role_arn
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]

  tags = var.tags
}
