# What the releases dial and only this stack knows once applied (charts/connections.yaml
# declares the facts and which chart values take them); every wave gets them as `set` values.
locals {
  connection_facts = {
    redis-cluster-address  = "${module.redis.configuration_endpoint}:6379"
    temporal-postgres-host = module.postgresql.address
  }
}
