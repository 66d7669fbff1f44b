locals {
  fqdns       = sort(var.hosts)
  distributed = var.origin_domain_name != null
}

resource "aws_route53_zone" "this" {
  # checkov:skip=CKV2_AWS_38:DNSSEC signing starts after the registrar holds the DS record (runbooks/dns-delegation.md)
  name = var.zone_name
  tags = var.tags
}

resource "aws_cloudwatch_log_group" "queries" {
  provider = aws.us_east_1

  name              = "/aws/route53/${var.zone_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "query_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.queries.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["route53.amazonaws.com"]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "queries" {
  provider = aws.us_east_1

  policy_name     = "${var.name}-route53-queries"
  policy_document = data.aws_iam_policy_document.query_logs.json
}

resource "aws_route53_query_log" "this" {
  zone_id                  = aws_route53_zone.this.zone_id
  cloudwatch_log_group_arn = aws_cloudwatch_log_group.queries.arn
  depends_on               = [aws_cloudwatch_log_resource_policy.queries]
}

module "certificate" {
  source    = "../dns-certificate"
  providers = { aws = aws.us_east_1 }

  hosts   = local.fqdns
  zone_id = aws_route53_zone.this.zone_id
  tags    = var.tags
}

module "waf" {
  source    = "../waf"
  providers = { aws = aws.us_east_1 }

  name        = "${var.name}-edge"
  scope       = "CLOUDFRONT"
  kms_key_arn = var.kms_key_arn
  tags        = var.tags
}

resource "aws_cloudfront_response_headers_policy" "security" {
  name = "${var.name}-security-headers"

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  # checkov:skip=CKV_AWS_374:the platform serves callers worldwide; abuse is handled by the WAF rate rule, not geography
  # checkov:skip=CKV_AWS_310:the ALB is the only origin (multi-AZ itself); there is no second origin to fail over to
  # checkov:skip=CKV_AWS_305:an API origin has no root object; "/" is routed by Kong like any other path
  # checkov:skip=CKV_AWS_86:access logs go through CloudFront standard logging v2 to CloudWatch (aws_cloudwatch_log_delivery below)
  count = local.distributed ? 1 : 0

  enabled         = true
  is_ipv6_enabled = true
  aliases         = local.fqdns
  web_acl_id      = module.waf.arn
  http_version    = "http2and3"
  price_class     = "PriceClass_All"
  comment         = "${var.name}: API and GraphQL in front of the ALB"

  origin {
    origin_id   = "alb"
    domain_name = var.origin_domain_name
    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  default_cache_behavior {
    target_origin_id           = "alb"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # Managed-CachingDisabled: API responses are per caller
    origin_request_policy_id   = "216adef6-5c7f-47e4-b989-5492eafa07d3" # Managed-AllViewer
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
  }

  viewer_certificate {
    acm_certificate_arn      = module.certificate.arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "access" {
  provider = aws.us_east_1
  count    = local.distributed ? 1 : 0

  name              = "/aws/cloudfront/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_delivery_source" "access" {
  provider = aws.us_east_1
  count    = local.distributed ? 1 : 0

  name         = "${var.name}-cloudfront"
  log_type     = "ACCESS_LOGS"
  resource_arn = aws_cloudfront_distribution.this[0].arn
}

resource "aws_cloudwatch_log_delivery_destination" "access" {
  provider = aws.us_east_1
  count    = local.distributed ? 1 : 0

  name = "${var.name}-cloudfront"
  delivery_destination_configuration {
    destination_resource_arn = aws_cloudwatch_log_group.access[0].arn
  }
}

resource "aws_cloudwatch_log_delivery" "access" {
  provider = aws.us_east_1
  count    = local.distributed ? 1 : 0

  delivery_source_name     = aws_cloudwatch_log_delivery_source.access[0].name
  delivery_destination_arn = aws_cloudwatch_log_delivery_destination.access[0].arn
}

resource "aws_route53_record" "hosts" {
  for_each = local.distributed ? toset(local.fqdns) : toset([])

  zone_id = aws_route53_zone.this.zone_id
  name    = each.key
  type    = "A"
  alias {
    name                   = aws_cloudfront_distribution.this[0].domain_name
    zone_id                = aws_cloudfront_distribution.this[0].hosted_zone_id
    evaluate_target_health = false
  }
}

moved {
  from = aws_acm_certificate.edge
  to   = module.certificate.aws_acm_certificate.this
}

moved {
  from = aws_route53_record.validation
  to   = module.certificate.aws_route53_record.validation
}

moved {
  from = aws_acm_certificate_validation.edge
  to   = module.certificate.aws_acm_certificate_validation.this
}
