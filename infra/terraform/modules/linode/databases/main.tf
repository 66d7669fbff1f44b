# TimescaleDB is enabled by the analytics service's first migration
# (CREATE EXTENSION timescaledb); the label records which database needs it.
resource "linode_database_postgresql_v2" "this" {
  for_each = var.databases

  label        = "${var.prefix}-${each.key}${each.value.timescaledb ? "-tsdb" : ""}"
  engine_id    = var.engine
  region       = var.region
  type         = each.value.type
  cluster_size = each.value.nodes
  allow_list   = var.allow_list

  updates = {
    day_of_week = 7
    duration    = 4
    frequency   = "weekly"
    hour_of_day = 3
  }
}
