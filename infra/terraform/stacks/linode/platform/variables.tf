variable "soa_email" {
  description = "SOA contact of the zone."
  type        = string
  default     = "platform@voiceops.example"
}

variable "runner_ssh_keys" {
  description = "SSH public keys of the operators who register the delivery runner (runbooks/delivery-runners.md); they log in through Lish, as its firewall admits nothing, and never with a password."
  type        = list(string)

  validation {
    condition     = length(var.runner_ssh_keys) > 0 && alltrue([for key in var.runner_ssh_keys : can(regex("^(ssh-ed25519|ecdsa-sha2-nistp[0-9]+|ssh-rsa) ", key))])
    error_message = "runner_ssh_keys needs at least one SSH public key (ssh-ed25519, ecdsa or rsa)."
  }
}
