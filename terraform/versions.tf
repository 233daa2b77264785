# Provider and Terraform versions. The state holds generated secrets (database passwords, the webhook
# secret), so keep it in a private GCS bucket: `terraform init -backend-config="bucket=<state-bucket>"`.
terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0" # Cloud Run worker pools and Managed Kafka ACLs are GA in 7.x
    }
    github = {
      source  = "integrations/github"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  backend "gcs" {
    prefix = "pillarstream"
  }
}

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = merge({ app = "pillarstream" }, var.labels)
}

# The token comes from the GITHUB_TOKEN environment variable of whoever runs `terraform apply`;
# it needs the admin:org_hook scope. It is never written to a .tf file.
provider "github" {
  owner = var.github_org
}
