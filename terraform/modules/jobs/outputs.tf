output "names" {
  description = "Cloud Run job name per job."
  value       = { for key, job in google_cloud_run_v2_job.this : key => job.name }
}
