variable "label" {
  description = "Firewall label."
  type        = string
}

variable "public_rules" {
  description = "Ports open to the internet on the nodes: LiveKit's host-networked media and SIP (seed 002's LiveKit and SIP services)."
  type = map(object({
    protocol = string
    ports    = string
  }))
  default = {
    livekit-rtc-udp = { protocol = "UDP", ports = "50000-60000" }
    livekit-rtc-tcp = { protocol = "TCP", ports = "7881" }
    livekit-turn    = { protocol = "UDP", ports = "3478" }
    sip-udp         = { protocol = "UDP", ports = "5060" }
    sip-tcp         = { protocol = "TCP", ports = "5060" }
    sip-rtp         = { protocol = "UDP", ports = "10000-20000" }
  }

  validation {
    condition     = alltrue([for rule in values(var.public_rules) : contains(["TCP", "UDP"], rule.protocol) && !contains(["22", "10250", "1-65535"], rule.ports)])
    error_message = "public rules take TCP or UDP and never open SSH, the kubelet or every port."
  }
}

variable "tags" {
  description = "Tags."
  type        = list(string)
  default     = []
}
