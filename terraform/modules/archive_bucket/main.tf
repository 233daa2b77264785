# The raw-event archive: the intermediary layer every replay starts from. Objects are written once
# (create-only, deterministic names), so nothing here ever needs to overwrite or delete them.

resource "google_storage_bucket" "archive" {
  # checkov:skip=CKV_GCP_62:Usage logs would need a second bucket to secure; access is recorded by Cloud Audit Logs (Data Access logs for storage.googleapis.com), which Google recommends over usage logs.
  name          = var.name
  location      = var.location
  storage_class = "STANDARD"
  force_destroy = var.force_destroy
  labels        = var.labels

  # IAM only, no object ACLs, and never public: the archive holds private repository payloads.
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Versioning keeps a deleted or overwritten object recoverable; the app never does either,
  # so noncurrent versions only appear after a human mistake.
  versioning {
    enabled = true
  }

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_days * 86400
  }

  # The archiver's index of archived delivery ids (_dedupe/) is read for 4 days only (GitHub redelivers for
  # 3): delete it after 14, before it would move to a colder class. Its objects are small, one per batch.
  lifecycle_rule {
    condition {
      age            = 14
      matches_prefix = ["_dedupe/"]
    }
    action {
      type = "Delete"
    }
  }

  # Old days are read only by a replay: move them to cheaper classes as they age.
  lifecycle_rule {
    condition {
      age                   = var.nearline_after_days
      matches_storage_class = ["STANDARD"]
    }
    action {
      type          = "SetStorageClass"
      storage_class = "NEARLINE"
    }
  }

  lifecycle_rule {
    condition {
      age                   = var.coldline_after_days
      matches_storage_class = ["NEARLINE"]
    }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }

  lifecycle_rule {
    condition {
      age                   = var.archive_after_days
      matches_storage_class = ["COLDLINE"]
    }
    action {
      type          = "SetStorageClass"
      storage_class = "ARCHIVE"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
}

# Writers may create objects but not read, replace or delete them: the create-only promise is
# enforced by IAM as well as by the code.
resource "google_storage_bucket_iam_member" "writers" {
  for_each = var.writers
  bucket   = google_storage_bucket.archive.name
  role     = "roles/storage.objectCreator"
  member   = "serviceAccount:${each.value}"
}

resource "google_storage_bucket_iam_member" "readers" {
  for_each = var.readers
  bucket   = google_storage_bucket.archive.name
  role     = "roles/storage.objectViewer"
  member   = "serviceAccount:${each.value}"
}
