locals {
  hosts = sort(var.hosts)
}

# A public ACM certificate for the hosts, validated through records in the zone. CloudFront's
# (us-east-1) and the ALB's (the cluster's region) ask for the same names, so their validation
# records are the same: either may write them.
resource "aws_acm_certificate" "this" {
  domain_name               = local.hosts[0]
  subject_alternative_names = slice(local.hosts, 1, length(local.hosts))
  validation_method         = "DNS"
  tags                      = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = {
    for option in aws_acm_certificate.this.domain_validation_options : option.domain_name => option
  }

  allow_overwrite = true
  zone_id         = var.zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
}

resource "aws_acm_certificate_validation" "this" {
  certificate_arn         = aws_acm_certificate.this.arn
  validation_record_fqdns = [for record in aws_route53_record.validation : record.fqdn]
}
