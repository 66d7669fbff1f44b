# The self-hosted runner the delivery jobs of this cluster run on (registry:
# cluster.api_access.runner_labels). LKE's API endpoint is public behind the control plane ACL,
# so the runner's fixed address is the one source the ACL admits besides the registry's
# allowed_cidrs. Registering it with GitHub is a runbook step (runbooks/delivery-runners.md): the
# registration token is short-lived and never enters Terraform state.
resource "linode_instance" "delivery_runner" {
  # checkov:skip=CKV_LIN_2:the keys come from var.runner_ssh_keys, whose validation requires at least one
  label           = "${module.context.prefix}-delivery-runner"
  region          = local.region
  type            = "g6-standard-2"
  image           = "linode/ubuntu24.04"
  authorized_keys = var.runner_ssh_keys
  firewall_id     = linode_firewall.delivery_runner.id
  tags            = local.tags
}

# The runner only calls out (GitHub, the Linode API, the cluster's API server): nothing reaches it.
resource "linode_firewall" "delivery_runner" {
  # checkov:skip=CKV_LIN_6:the runner fetches jobs from GitHub and reaches the Linode and Kubernetes APIs, whose addresses are not fixed
  label           = "${module.context.prefix}-delivery-runner"
  inbound_policy  = "DROP"
  outbound_policy = "ACCEPT"
  tags            = local.tags
}
