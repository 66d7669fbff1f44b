# A data store's security group: one port, from the named groups or CIDRs only, no egress rules.
resource "aws_security_group" "this" {
  # checkov:skip=CKV2_AWS_5:the calling module attaches this group to its data store (output security_group_id)
  name        = var.name
  description = var.description
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "groups" {
  for_each = toset(var.client_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "port ${var.port} from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  referenced_security_group_id = each.key
}

resource "aws_vpc_security_group_ingress_rule" "cidrs" {
  for_each = toset(var.client_cidrs)

  security_group_id = aws_security_group.this.id
  description       = "port ${var.port} from ${each.key}"
  ip_protocol       = "tcp"
  from_port         = var.port
  to_port           = var.port
  cidr_ipv4         = each.key
}
