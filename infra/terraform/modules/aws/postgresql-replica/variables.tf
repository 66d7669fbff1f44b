variable "name" {
  description = "Replica instance identifier."
  type        = string
}

variable "source_db_arn" {
  description = "ARN of the primary instance in the other region."
  type        = string
}

variable "instance_class" {
  description = "Instance class; matches the primary so a promoted replica carries the load."
  type        = string
  default     = "db.r6g.large"
}

variable "subnet_ids" {
  description = "Private subnets of the recovery region's network."
  type        = list(string)
}

variable "vpc_id" {
  description = "Recovery region VPC."
  type        = string
}

variable "allowed_cidrs" {
  description = "CIDRs allowed to connect on 5432 (the recovery network)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key of the recovery region (a cross-region replica needs its own)."
  type        = string
}

variable "backup_retention_days" {
  description = "Backups kept on the replica so it can serve point-in-time recovery once promoted."
  type        = number
  default     = 30
}

variable "monitoring_role_arn" {
  description = "Enhanced-monitoring role (IAM is global: the primary's role serves the replica)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
