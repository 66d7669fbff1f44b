locals {
  # LKE's control plane and node network, and the NodeBalancers' back-end range.
  lke_private     = "192.168.128.0/17"
  nodebalancers   = "192.168.255.0/24"
  everywhere_ipv4 = ["0.0.0.0/0"]
  everywhere_ipv6 = ["::/0"]
}

# Inbound is closed except what LKE itself needs and the media ports; outbound is open.
resource "linode_firewall" "this" {
  # checkov:skip=CKV_LIN_6:nodes pull images and call LLM and speech APIs; egress is narrowed per namespace by default-deny NetworkPolicies (seed 002)
  label           = var.label
  inbound_policy  = "DROP"
  outbound_policy = "ACCEPT"
  tags            = var.tags

  inbound {
    label    = "kubelet-from-lke"
    action   = "ACCEPT"
    protocol = "TCP"
    ports    = "10250"
    ipv4     = [local.lke_private]
  }

  inbound {
    label    = "calico-bgp-from-lke"
    action   = "ACCEPT"
    protocol = "TCP"
    ports    = "179"
    ipv4     = [local.lke_private]
  }

  inbound {
    label    = "calico-ipip-from-lke"
    action   = "ACCEPT"
    protocol = "IPENCAP"
    ipv4     = [local.lke_private]
  }

  inbound {
    label    = "wireguard-from-lke"
    action   = "ACCEPT"
    protocol = "UDP"
    ports    = "51820"
    ipv4     = [local.lke_private]
  }

  inbound {
    label    = "nodeports-from-nodebalancers"
    action   = "ACCEPT"
    protocol = "TCP"
    ports    = "30000-32767"
    ipv4     = [local.nodebalancers]
  }

  dynamic "inbound" {
    for_each = var.public_rules
    content {
      label    = inbound.key
      action   = "ACCEPT"
      protocol = inbound.value.protocol
      ports    = inbound.value.ports
      ipv4     = local.everywhere_ipv4
      ipv6     = local.everywhere_ipv6
    }
  }
}
