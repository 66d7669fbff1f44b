output "hosts" {
  description = "Primary host per service database."
  value       = { for name, database in linode_database_postgresql_v2.this : name => database.host_primary }
}

output "timescaledb" {
  description = "Databases whose service creates the TimescaleDB extension."
  value       = [for name, database in var.databases : name if database.timescaledb]
}
