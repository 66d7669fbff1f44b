# Seed 003's entry path: Route 53 -> CloudFront (edge WAF) -> the ALB -> Kong -> the API services.
# The ALB is the cluster's: EKS Auto Mode builds it from the Ingress objects of the `alb`
# IngressClass (charts/base, routes from the registry), whose IngressClassParams tag it with the
# cluster's name. The stack finds it by that tag, attaches the regional WAF and points CloudFront at
# it; until the first deploy has created it, the plan says so and leaves the edge without origin.

locals {
  # the tag key charts/values/aws/base.yaml gives the IngressClassParams (ingress.alb.tagKey)
  entry_tag_key = "voiceops.io/entry"
  entry_hosts   = sort(values(module.context.entry_hosts))
}

# The listeners' certificate, in the cluster's region (CloudFront's is the edge module's, in us-east-1)
module "ingress_certificate" {
  source = "../dns-certificate"

  hosts   = local.entry_hosts
  zone_id = module.edge.zone_id
  tags    = local.tags
}

data "aws_lbs" "ingress" {
  tags = { (local.entry_tag_key) = module.context.cluster.name }
}

data "aws_lb" "ingress" {
  count = length(data.aws_lbs.ingress.arns) == 1 ? 1 : 0

  arn = one(data.aws_lbs.ingress.arns)
}

locals {
  entry_alb_dns_name = try(data.aws_lb.ingress[0].dns_name, null)
}

resource "aws_wafv2_web_acl_association" "ingress_alb" {
  count = length(data.aws_lb.ingress)

  resource_arn = data.aws_lb.ingress[0].arn
  web_acl_arn  = module.alb_waf.arn
}

check "entry_load_balancer" {
  assert {
    condition     = length(data.aws_lbs.ingress.arns) == 1
    error_message = "No single ALB tagged ${local.entry_tag_key}=${module.context.cluster.name} yet (found ${length(data.aws_lbs.ingress.arns)}): the edge has no origin and the WAF is unattached until the first deploy's Ingresses have built it; plan again then."
  }
}
