output "names" {
  description = "Resource names for the chosen cloud, keyed by resource kind."
  value       = local.names

  precondition {
    condition     = length(local.azure.storage_account) <= 24 && length(local.azure.key_vault) <= 24
    error_message = "workload and stage are too long: Azure storage account and Key Vault names allow 24 characters."
  }
  precondition {
    condition     = length(local.aws.egress_bucket) <= 63 && length(local.aws.opensearch) <= 28
    error_message = "workload and stage are too long: S3 bucket names allow 63 characters, OpenSearch domains 28."
  }
}

output "prefix" {
  description = "<workload>-<stage>, the stem every name starts from."
  value       = local.base
}

output "tags" {
  description = "Tags for every taggable resource (map form: AWS, Azure)."
  value       = local.tags
}

output "tag_list" {
  description = "The same tags as \"key:value\" strings (Linode tags are plain strings)."
  value       = sort([for key, value in local.tags : "${key}:${value}"])
}
