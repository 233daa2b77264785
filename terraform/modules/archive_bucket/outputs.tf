output "bucket_name" {
  description = "Name of the archive bucket."
  value       = google_storage_bucket.archive.name
}

output "bucket_url" {
  description = "gs:// URL of the archive bucket."
  value       = google_storage_bucket.archive.url
}
