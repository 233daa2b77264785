output "cluster_id" {
  description = "Managed Kafka cluster id."
  value       = google_managed_kafka_cluster.this.cluster_id
}

output "bootstrap_servers" {
  description = "host:port the clients bootstrap from (SASL listener)."
  value       = local.bootstrap
}

output "raw_topic" {
  description = "Name of the raw topic."
  value       = google_managed_kafka_topic.raw.topic_id
}
