# Secret Manager holds every credential a process needs; processes receive them as environment
# variables resolved by Cloud Run, and each secret is readable only by the processes that use it.

resource "google_secret_manager_secret" "this" {
  for_each  = var.secrets
  secret_id = "${var.prefix}-${each.key}"
  labels    = var.labels

  annotations = {
    description = each.value.description
  }

  replication {
    auto {}
  }
}

# Versions of the secrets Terraform generates. A changed value makes a new version first and
# disables the old one afterwards, and callers pin the version number, so a rotation rolls out as
# a new Cloud Run revision instead of surprising running instances.
resource "google_secret_manager_secret_version" "managed" {
  for_each        = { for key, spec in var.secrets : key => spec if spec.managed }
  secret          = google_secret_manager_secret.this[each.key].id
  secret_data     = var.values[each.key]
  deletion_policy = "DISABLE"

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  grants = merge([
    for key, spec in var.secrets : {
      for process, email in spec.accessors : "${key}/${process}" => { secret = key, email = email }
    }
  ]...)
}

resource "google_secret_manager_secret_iam_member" "accessors" {
  for_each  = local.grants
  secret_id = google_secret_manager_secret.this[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${each.value.email}"
}
