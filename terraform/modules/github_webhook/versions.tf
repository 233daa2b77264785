# Declared here as well as in the root: without it Terraform would look for hashicorp/github.
terraform {
  required_providers {
    github = {
      source = "integrations/github"
    }
  }
}
