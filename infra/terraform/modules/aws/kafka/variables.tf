variable "name" {
  description = "MSK cluster name."
  type        = string
}

variable "kafka_version" {
  description = "Apache Kafka version."
  type        = string
  default     = "3.8.x"
}

variable "broker_instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "broker_storage_gb" {
  description = "EBS storage per broker."
  type        = number
  default     = 500
}

variable "subnet_ids" {
  description = "Private subnets, one per zone; one broker per zone."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 3
    error_message = "MSK here spreads brokers over three zones: give three private subnets."
  }
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "client_security_group_ids" {
  description = "Security groups allowed to reach the brokers (IAM auth over TLS, 9098)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for data at rest and the broker log group."
  type        = string
}

variable "log_retention_days" {
  description = "CloudWatch retention of broker logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
