output "names" {
  description = "Worker pool name per consumer."
  value       = { for key, pool in google_cloud_run_v2_worker_pool.this : key => pool.name }
}
