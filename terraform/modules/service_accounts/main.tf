# One service account per process, so a leaked credential or a bug in one process reaches only
# what that process needs. Access to buckets, secrets and jobs is granted on those resources by
# the modules that own them; only roles that have no narrower resource are granted here.

resource "google_service_account" "this" {
  for_each     = toset(var.processes)
  project      = var.project_id
  account_id   = "${var.prefix}-${each.key}"
  display_name = "pillarstream ${each.key}"
  description  = "Runs the pillarstream ${each.key} process; holds only that process's grants."
}

locals {
  project_grants = merge([
    for process, roles in var.project_roles : {
      for role in roles : "${process}/${role}" => { process = process, role = role }
    }
  ]...)
}

resource "google_project_iam_member" "this" {
  for_each = local.project_grants
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.this[each.value.process].email}"
}
