# The Faust workers on Cloud Run worker pools: long-running, always-on instances with no HTTP
# ingress, made for pull-based consumers. Each pool is one consumer group; its instance count is
# the scaling knob (useful up to the raw topic's partition count). docs/operations.md explains why
# worker pools rather than Cloud Run services or GKE.

resource "google_cloud_run_v2_worker_pool" "this" {
  for_each            = var.pools
  name                = "${var.prefix}-${each.key}"
  location            = var.region
  deletion_protection = var.deletion_protection

  scaling {
    scaling_mode          = "MANUAL"
    manual_instance_count = each.value.instances
  }

  template {
    service_account = each.value.service_account

    vpc_access {
      network_interfaces {
        network    = var.network
        subnetwork = var.subnetwork
      }
      egress = "PRIVATE_RANGES_ONLY"
    }

    containers {
      image = var.image
      args  = each.value.args

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
      }

      dynamic "env" {
        for_each = each.value.env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = each.value.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }
    }
  }
}
