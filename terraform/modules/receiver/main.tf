# The webhook receiver on Cloud Run: a public HTTPS endpoint that verifies GitHub's signature and
# answers only after Kafka has acknowledged the event.

resource "google_cloud_run_v2_service" "receiver" {
  name                = var.name
  location            = var.region
  deletion_protection = var.deletion_protection
  # GitHub calls from the internet, so the service is public; callers are authenticated by the
  # HMAC signature on every delivery instead of by IAM (GitHub cannot send Google credentials).
  ingress              = "INGRESS_TRAFFIC_ALL"
  invoker_iam_disabled = true

  template {
    service_account                  = var.service_account
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    max_instance_request_concurrency = var.concurrency
    # GitHub gives up after 10 s; answering 503 before that keeps the failure visible to GitHub
    # (and to the reconciler) instead of leaving it to a client-side timeout.
    timeout = "${var.request_timeout_seconds}s"

    scaling {
      # Warm instances: a cold start (image pull, Kafka metadata) must never eat GitHub's 10 s.
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    vpc_access {
      network_interfaces {
        network    = var.network
        subnetwork = var.subnetwork
      }
      egress = "PRIVATE_RANGES_ONLY"
    }

    containers {
      image = var.image
      args  = var.args

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # Keep CPU between requests so the Kafka producer's connections and metadata stay fresh.
        cpu_idle          = false
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = var.env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secret_env
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

      # /healthz says the process is alive; /readyz (Kafka reachable) is for humans and alerts:
      # restarting the receiver would not bring Kafka back.
      startup_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 2
        failure_threshold = 15
      }

      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds = 15
      }
    }
  }
}
