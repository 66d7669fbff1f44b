module "platform" {
  source    = "../../../modules/aws/platform"
  providers = { aws = aws, aws.disaster_recovery = aws.disaster_recovery, aws.us_east_1 = aws.us_east_1 }

  environment          = local.environment
  stack_dir            = abspath(path.root)
  admin_principal_arns = var.admin_principal_arns
  install_releases     = var.install_releases
}
