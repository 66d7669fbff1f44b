variable "name" {
  description = "Domain name (28 characters at most)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,27}$", var.name))
    error_message = "OpenSearch domain names are 3-28 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "engine_version" {
  description = "OpenSearch engine version."
  type        = string
  default     = "OpenSearch_2.19"
}

variable "instance_type" {
  description = "Data node instance type."
  type        = string
  default     = "r6g.large.search"
}

variable "instance_count" {
  description = "Data nodes, a multiple of the zone count."
  type        = number
  default     = 3
}

variable "volume_size_gb" {
  description = "gp3 storage per data node."
  type        = number
  default     = 100
}

variable "subnet_ids" {
  description = "Private subnets, one per zone (three-zone awareness)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) == 3
    error_message = "the domain spans three zones: give exactly three private subnets."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "client_security_group_ids" {
  description = "Security groups allowed to reach the domain on 443."
  type        = list(string)
}

variable "master_role_arn" {
  description = "IAM role mapped to the OpenSearch master user (fine-grained access control)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for data at rest and the log groups."
  type        = string
}

variable "log_retention_days" {
  description = "CloudWatch retention of slow-search, index and audit logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
