variable "admin_principal_arns" {
  description = "IAM roles with cluster-admin access entries (CI deploy role, break-glass role)."
  type        = list(string)
  default     = []
}

variable "ingress_alb" {
  description = "The ingress ALB once Auto Mode has created it (ARN and DNS name): attaches the regional WAF and turns on CloudFront and the Route 53 aliases."
  type = object({
    arn      = string
    dns_name = string
  })
  default = null
}

variable "install_releases" {
  description = "Install the catalog's Helm releases; false for a first apply that builds the cluster only."
  type        = bool
  default     = true
}
