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
resource "aws_acm_certificate" "ingress" {
  domain_name               = local.entry_hosts[0]
  subject_alternative_names = slice(local.entry_hosts, 1, length(local.entry_hosts))
  validation_method         = "DNS"
  tags                      = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "ingress_validation" {
  for_each = {
    for option in aws_acm_certificate.ingress.domain_validation_options : option.domain_name => option
  }

  # the edge certificate asks for the same names: one record serves both validations
  allow_overwrite = true
  zone_id         = module.edge.zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
}

resource "aws_acm_certificate_validation" "ingress" {
  certificate_arn         = aws_acm_certificate.ingress.arn
  validation_record_fqdns = [for record in aws_route53_record.ingress_validation : record.fqdn]
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
