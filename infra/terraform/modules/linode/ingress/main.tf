# Seed 002's NodeBalancer in front of the ingress controller, made here so that its address is
# known to the DNS records before any deploy and its firewall is ours: LKE's cloud controller
# adopts it for the controller's LoadBalancer Service by id (connection fact
# ingress-nodebalancer-id) and manages its configs and nodes.
resource "linode_node_balancer" "this" {
  label                = var.label
  region               = var.region
  client_conn_throttle = 20
  tags                 = var.tags
}

# Only the web ports reach the NodeBalancer (HTTP stays open for the redirect and ACME challenges);
# a NodeBalancer's firewall filters inbound traffic only, so nothing relies on the outbound policy
resource "linode_firewall" "this" {
  label           = "${var.label}-web"
  inbound_policy  = "DROP"
  outbound_policy = "DROP"
  nodebalancers   = [linode_node_balancer.this.id]
  tags            = var.tags

  inbound {
    label    = "web"
    action   = "ACCEPT"
    protocol = "TCP"
    ports    = "80,443"
    ipv4     = ["0.0.0.0/0"]
    ipv6     = ["::/0"]
  }
}
