variable "cidr" {
  description = "Address space of the network (VPC or VNet), e.g. 10.0.0.0/16."
  type        = string

  validation {
    condition     = try(cidrhost(var.cidr, 0) == split("/", var.cidr)[0], false)
    error_message = "cidr must be an IPv4 network address in CIDR notation (host bits zero), e.g. 10.0.0.0/16."
  }
}

variable "availability_zones" {
  description = "Zones the network spans; every per-zone subnet kind needs one subnet per zone."
  type        = number

  validation {
    condition     = var.availability_zones >= 2 && var.availability_zones <= 6 && floor(var.availability_zones) == var.availability_zones
    error_message = "availability_zones must be a whole number from 2 to 6: a multi-zone platform needs at least two zones."
  }
}

variable "subnets" {
  description = "Named subnets (name -> CIDR list), as environments/<env>.yaml writes them."
  type        = map(list(string))

  validation {
    condition     = length(var.subnets) > 0 && alltrue([for cidrs in values(var.subnets) : length(cidrs) > 0])
    error_message = "subnets must name at least one subnet kind, each with at least one CIDR."
  }

  validation {
    condition = alltrue([
      for cidr in flatten(values(var.subnets)) :
      try(cidrhost(cidr, 0) == split("/", cidr)[0], false)
    ])
    error_message = "every subnet must be an IPv4 network address in CIDR notation with host bits zero."
  }

  validation {
    # A subnet lies inside the network when it is no larger than the network and its
    # address, masked to the network's prefix, is the network's address.
    condition = alltrue([
      for cidr in flatten(values(var.subnets)) : try(
        tonumber(split("/", cidr)[1]) >= tonumber(split("/", var.cidr)[1]) &&
        cidrhost("${split("/", cidr)[0]}/${split("/", var.cidr)[1]}", 0) == cidrhost(var.cidr, 0),
      false)
    ])
    error_message = "every subnet must lie inside cidr (seed 004's 10.1-10.3.x subnets do not fit its 10.0.0.0/16)."
  }

  validation {
    # Two subnets overlap when masking both to the shorter prefix gives the same address.
    condition = alltrue(flatten([
      for i, a in flatten(values(var.subnets)) : [
        for j, b in flatten(values(var.subnets)) :
        j <= i || try(
          cidrhost("${split("/", a)[0]}/${min(tonumber(split("/", a)[1]), tonumber(split("/", b)[1]))}", 0) !=
          cidrhost("${split("/", b)[0]}/${min(tonumber(split("/", a)[1]), tonumber(split("/", b)[1]))}", 0),
        true) # a malformed CIDR is reported by the rule above
      ]
    ]))
    error_message = "subnets must not overlap one another."
  }
}

variable "per_zone" {
  description = "Subnet kinds laid out one per zone (AWS public and private); the others are regional (Azure)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.per_zone) == length(distinct(var.per_zone))
    error_message = "per_zone must not repeat a subnet kind."
  }

  validation {
    condition     = alltrue([for kind in var.per_zone : contains(keys(var.subnets), kind)])
    error_message = "per_zone names a subnet kind that subnets does not define."
  }

  validation {
    condition     = alltrue([for kind in var.per_zone : length(lookup(var.subnets, kind, [])) == var.availability_zones])
    error_message = "each per-zone subnet kind needs exactly one CIDR per availability zone."
  }

  validation {
    condition     = alltrue([for kind, cidrs in var.subnets : contains(var.per_zone, kind) || length(cidrs) == 1])
    error_message = "a regional subnet kind (not in per_zone) takes exactly one CIDR."
  }
}
