output "workspace_id" {
  description = "Log Analytics workspace id."
  value       = azurerm_log_analytics_workspace.this.id
}

output "insights_connection_string" {
  description = "Application Insights connection string (for the OpenTelemetry exporters)."
  value       = azurerm_application_insights.this.connection_string
  sensitive   = true
}
