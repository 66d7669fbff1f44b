# LiveKit and SIP run on the nodes' network (hostNetwork): their media and signalling ports are
# open to the internet on the security group Auto Mode's nodes carry (the cluster security group,
# through NodeClass voiceops), as the Linode firewall and the Azure NSG open them. The wiring
# gate checks these against the ports the rendered servers listen on.
locals {
  public_media_ports = {
    livekit-rtc-udp = { protocol = "udp", from = 50000, to = 60000 }
    livekit-rtc-tcp = { protocol = "tcp", from = 7881, to = 7881 }
    livekit-turn    = { protocol = "udp", from = 3478, to = 3478 }
    sip-udp         = { protocol = "udp", from = 5060, to = 5060 }
    sip-tcp         = { protocol = "tcp", from = 5060, to = 5060 }
    sip-rtp         = { protocol = "udp", from = 10000, to = 20000 }
  }
}

resource "aws_vpc_security_group_ingress_rule" "public_media" {
  for_each = local.public_media_ports

  security_group_id = module.eks.cluster_security_group_id
  description       = "${each.key} from the internet to the host-networked LiveKit and SIP servers"
  ip_protocol       = each.value.protocol
  from_port         = each.value.from
  to_port           = each.value.to
  cidr_ipv4         = "0.0.0.0/0"
}
