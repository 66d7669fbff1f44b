resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

module "access" {
  source = "../client-access"

  name                      = "${var.name}-redis"
  description               = "Redis 6379 from the EKS cluster only"
  vpc_id                    = var.vpc_id
  port                      = 6379
  client_security_group_ids = var.client_security_group_ids
  tags                      = var.tags
}

resource "random_password" "auth" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "auth" {
  # checkov:skip=CKV2_AWS_57:no rotation Lambda: the token is the default user's password, sent by LiveKit, SIP and egress, and its rotation is not built; invoke secrets.rotate rotates the platform services' own users
  name                    = "${var.name}/redis-auth"
  description             = "AUTH token of the ${var.name} Redis replication group"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "auth" {
  secret_id     = aws_secretsmanager_secret.auth.id
  secret_string = random_password.auth.result
}

# RBAC users instead of one AUTH token: each platform service gets its own user, made and
# rotated by `invoke secrets.rotate` (two passwords per user through a switch). LiveKit, SIP
# and egress still send the token alone, which authenticates them as `default`.
resource "aws_elasticache_user" "default" {
  user_id       = "${var.name}-default"
  user_name     = "default"
  engine        = "redis"
  access_string = "on ~* &* +@all"

  authentication_mode {
    type      = "password"
    passwords = [random_password.auth.result]
  }

  tags = var.tags
}

resource "aws_elasticache_user_group" "this" {
  engine        = "redis"
  user_group_id = var.name
  user_ids      = [aws_elasticache_user.default.user_id]
  tags          = var.tags

  lifecycle {
    # secrets.rotate adds the platform services' users to the group
    ignore_changes = [user_ids]
  }
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(["slow-log", "engine-log"])

  name              = "/aws/elasticache/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "Redis cluster mode for ${var.name}"
  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = 6379
  parameter_group_name = "default.redis7.cluster.on"

  cluster_mode               = "enabled"
  num_node_groups            = var.shards
  replicas_per_node_group    = var.replicas_per_shard
  automatic_failover_enabled = true
  multi_az_enabled           = true

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [module.access.security_group_id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  # A group created with an AUTH token (before RBAC here) is moved once, by an apply that also
  # sets auth_token_update_strategy = "DELETE": ElastiCache refuses a user group beside a token,
  # and the provider sends DELETE without a token only from its AUTH-to-RBAC fix (PR 45518) on.
  user_group_ids = [aws_elasticache_user_group.this.user_group_id]

  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = "03:00-05:00"
  maintenance_window         = "sun:05:30-sun:07:00"
  auto_minor_version_upgrade = true
  apply_immediately          = false

  dynamic "log_delivery_configuration" {
    for_each = aws_cloudwatch_log_group.this
    content {
      destination      = log_delivery_configuration.value.name
      destination_type = "cloudwatch-logs"
      log_format       = "json"
      log_type         = log_delivery_configuration.key
    }
  }

  tags = var.tags
}
