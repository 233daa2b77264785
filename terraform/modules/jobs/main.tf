# Run-to-completion processes as Cloud Run jobs: migrate and replay are run by an operator, the
# backfill and the reconciler also run on a Cloud Scheduler schedule.

resource "google_cloud_run_v2_job" "this" {
  for_each            = var.jobs
  name                = "${var.prefix}-${each.key}"
  location            = var.region
  deletion_protection = var.deletion_protection

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = each.value.service_account
      timeout         = "${each.value.timeout_seconds}s"
      # Every job is safe to rerun (cursors, idempotent writes), so a failed task is retried.
      max_retries = 2

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
}

locals {
  scheduled = { for key, job in var.jobs : key => job if job.schedule != null }
}

# The scheduler's own service account may start the scheduled jobs and nothing else.
resource "google_cloud_run_v2_job_iam_member" "scheduler" {
  for_each = local.scheduled
  name     = google_cloud_run_v2_job.this[each.key].name
  location = var.region
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.scheduler_account}"
}

resource "google_cloud_scheduler_job" "this" {
  for_each         = local.scheduled
  name             = "${var.prefix}-${each.key}"
  region           = var.region
  schedule         = each.value.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  retry_config {
    retry_count = 3
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/${google_cloud_run_v2_job.this[each.key].id}:run"

    oauth_token {
      service_account_email = var.scheduler_account
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.scheduler]
}
