output "receiver_url" {
  description = "HTTPS URL of the receiver (Cloud Run)."
  value       = module.receiver.url
}

output "webhook_url" {
  description = "URL the organisation webhook delivers to."
  value       = "${module.receiver.url}/webhooks/github"
}

output "webhook_hook_id" {
  description = "Id of the GitHub organisation webhook."
  value       = module.github_webhook.hook_id
}

output "image_repository" {
  description = "Artifact Registry path to push the image to."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "archive_url" {
  description = "gs:// prefix of the raw-event archive."
  value       = local.archive_url
}

output "kafka_bootstrap_servers" {
  description = "Bootstrap address of the Managed Kafka cluster (reachable from the VPC only)."
  value       = module.kafka.bootstrap_servers
}

output "raw_topic" {
  description = "Raw GitHub event topic."
  value       = module.kafka.raw_topic
}

output "database_instance" {
  description = "Cloud SQL connection name (PROJECT:REGION:INSTANCE), for the Cloud SQL Auth Proxy."
  value       = module.database.connection_name
}

output "database_private_ip" {
  description = "Private IP of the warehouse."
  value       = module.database.private_ip
}

output "secret_ids" {
  description = "Secret Manager secret id per short name; add the GitHub token to secret_ids[\"github-token\"]."
  value       = module.secrets.ids
}

output "service_accounts" {
  description = "Service account e-mail per process."
  value       = module.service_accounts.emails
}

output "worker_pools" {
  description = "Cloud Run worker pool per consumer group."
  value       = module.workers.names
}

output "jobs" {
  description = "Cloud Run job per run-to-completion process."
  value       = module.jobs.names
}
