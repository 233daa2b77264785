output "url" {
  description = "HTTPS URL of the receiver."
  value       = google_cloud_run_v2_service.receiver.uri
}

output "name" {
  description = "Cloud Run service name."
  value       = google_cloud_run_v2_service.receiver.name
}
