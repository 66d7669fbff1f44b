terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
      # CloudFront certificates, WAF and logs live in us-east-1 whatever the primary region.
      configuration_aliases = [aws.us_east_1]
    }
  }
}
