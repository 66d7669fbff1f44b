variable "cloud" {
  description = "aws, azure or linode: selects the sizing table and the output shape."
  type        = string

  validation {
    condition     = contains(["aws", "azure", "linode"], var.cloud)
    error_message = "cloud must be one of aws, azure, linode."
  }
}

variable "pools" {
  description = "Node pools of the resolved environment (cluster.node_pools): bounds, taint syntax and unique names are checked by the registry schema."
  type = list(object({
    name          = string
    instance_type = string
    min_nodes     = number
    max_nodes     = number
    taints        = list(string)
    autoscaling   = bool
    gpu           = bool
    spot          = bool
    public        = bool
  }))

  validation {
    condition     = length(var.pools) > 0
    error_message = "pools must hold at least one pool."
  }

  validation {
    # AKS: Linux pool names are 1-12 lowercase letters and digits, starting with a letter.
    condition     = alltrue([for pool in var.pools : can(regex("^[a-z][a-z0-9]{0,11}$", pool.name))])
    error_message = "pool names must be 1-12 lowercase letters or digits starting with a letter (the AKS limit)."
  }

  validation {
    condition     = alltrue([for pool in var.pools : contains(keys(var.sizes[var.cloud]), pool.instance_type)])
    error_message = "unknown instance type for ${var.cloud}: ${join(", ", [for pool in var.pools : pool.instance_type if !contains(keys(var.sizes[var.cloud]), pool.instance_type)])}; known: ${join(", ", sort(keys(var.sizes[var.cloud])))}."
  }

  validation {
    condition     = alltrue([for pool in var.pools : !pool.gpu || try(var.sizes[var.cloud][pool.instance_type].gpus, 0) > 0])
    error_message = "a pool marked gpu must use an instance type with GPUs."
  }

  validation {
    condition     = var.cloud != "azure" || contains([for pool in var.pools : pool.name], "system")
    error_message = "AKS needs a pool named system (the default, critical-add-ons-only pool)."
  }

  validation {
    condition     = var.cloud != "azure" || alltrue([for pool in var.pools : pool.name != "system" || length(pool.taints) == 0])
    error_message = "the AKS system pool takes no custom taints (it gets CriticalAddonsOnly)."
  }
}

variable "sizes" {
  description = "Known instance types per cloud: vCPUs, memory (GiB) and GPUs; the pools may use only these."
  type = map(map(object({
    vcpus      = number
    memory_gib = number
    gpus       = optional(number, 0)
  })))
  default = {
    aws = {
      "m5.large"   = { vcpus = 2, memory_gib = 8 }
      "m5.xlarge"  = { vcpus = 4, memory_gib = 16 }
      "c5.2xlarge" = { vcpus = 8, memory_gib = 16 }
      "c5.4xlarge" = { vcpus = 16, memory_gib = 32 }
      "g6.xlarge"  = { vcpus = 4, memory_gib = 16, gpus = 1 }
    }
    azure = {
      Standard_D4s_v3 = { vcpus = 4, memory_gib = 16 }
      Standard_D8s_v3 = { vcpus = 8, memory_gib = 32 }
    }
    linode = {
      "g6-standard-4"    = { vcpus = 4, memory_gib = 8 }
      "g6-standard-8"    = { vcpus = 8, memory_gib = 32 }
      "g1-gpu-rtx6000-1" = { vcpus = 8, memory_gib = 32, gpus = 1 }
    }
  }
}

variable "eks_node_class" {
  description = "NodeClass the EKS Auto Mode node pools launch from (the platform's own enforces NetworkPolicy)."
  type        = string
  default     = "voiceops"
}

variable "eks_public_node_class" {
  description = "NodeClass of the public pools: the same, in the public subnets with public addresses."
  type        = string
  default     = "voiceops-public"
}
