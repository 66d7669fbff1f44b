variable "name" {
  description = "Load balancer name (seed 004: lb-livekit-prod)."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group."
  type        = string
}

variable "ports" {
  description = "LiveKit signalling and TURN ports balanced here; the UDP media range reaches the livekit pool's node addresses directly."
  type = map(object({
    protocol = string
    port     = number
  }))
  default = {
    rtc-tcp   = { protocol = "Tcp", port = 7881 }
    turn-udp  = { protocol = "Udp", port = 3478 }
    turn-tls  = { protocol = "Tcp", port = 5349 }
    signaling = { protocol = "Tcp", port = 443 }
  }
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
