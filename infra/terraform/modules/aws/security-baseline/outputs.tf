output "trail_arn" {
  description = "CloudTrail ARN, or null when disabled."
  value       = try(aws_cloudtrail.this[0].arn, null)
}

output "guardduty_detector_id" {
  description = "GuardDuty detector id, or null when disabled."
  value       = try(aws_guardduty_detector.this[0].id, null)
}
