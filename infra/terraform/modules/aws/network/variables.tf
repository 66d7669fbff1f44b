variable "name" {
  description = "VPC name; prefixes every network resource."
  type        = string
}

variable "cidr" {
  description = "VPC address space (seed 003: 10.0.0.0/16)."
  type        = string
}

variable "subnets" {
  description = "public and private subnet CIDRs, one per availability zone, in zone order."
  type = object({
    public  = list(string)
    private = list(string)
  })
}

variable "availability_zones" {
  description = "Number of availability zones (seed 003: three)."
  type        = number
  default     = 3
}

variable "cluster_name" {
  description = "EKS cluster the subnets serve: tags them for load balancer discovery."
  type        = string
}

variable "flow_log_retention_days" {
  description = "CloudWatch retention of VPC flow logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([90, 180, 365, 400, 545, 731, 1827, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch retention of at least 90 days (90, 180, 365, ...)."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the flow-log group."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
