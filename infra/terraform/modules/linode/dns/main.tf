resource "linode_domain" "this" {
  domain    = var.domain
  type      = "master"
  soa_email = var.soa_email
  tags      = var.tags
}

resource "linode_domain_record" "ingress" {
  for_each = toset(var.hosts)

  domain_id   = linode_domain.this.id
  name        = each.key
  record_type = "A"
  target      = var.ingress_address
  ttl_sec     = 300
}

# Let's Encrypt may only issue for this zone (cert-manager's ClusterIssuers).
resource "linode_domain_record" "caa" {
  domain_id   = linode_domain.this.id
  name        = ""
  record_type = "CAA"
  tag         = "issue"
  target      = "letsencrypt.org"
  ttl_sec     = 3600
}
