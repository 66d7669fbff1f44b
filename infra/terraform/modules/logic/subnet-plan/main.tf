locals {
  zone_letters = ["a", "b", "c", "d", "e", "f"]

  # "private-a" -> { kind, zone_index, cidr }: the shape `for_each` over subnets wants.
  zonal = merge([
    for kind in var.per_zone : {
      for index, cidr in var.subnets[kind] :
      "${kind}-${local.zone_letters[index]}" => { kind = kind, zone_index = index, cidr = cidr }
    }
  ]...)

  regional = {
    for kind, cidrs in var.subnets : kind => cidrs[0]
    if !contains(var.per_zone, kind)
  }

  usable_addresses = {
    for kind, cidrs in var.subnets : kind => sum([for cidr in cidrs : pow(2, 32 - tonumber(split("/", cidr)[1]))])
  }
}
