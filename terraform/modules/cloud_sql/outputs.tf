output "instance_name" {
  description = "Cloud SQL instance name."
  value       = google_sql_database_instance.this.name
}

output "connection_name" {
  description = "PROJECT:REGION:INSTANCE, for the Cloud SQL Auth Proxy."
  value       = google_sql_database_instance.this.connection_name
}

output "private_ip" {
  description = "Private IP address the processes connect to."
  value       = google_sql_database_instance.this.private_ip_address
}

output "database_name" {
  description = "Name of the warehouse database."
  value       = google_sql_database.warehouse.name
}

output "owner_url" {
  description = "libpq URL of the schema owner (migrations only)."
  value       = local.urls["owner"]
  sensitive   = true
}

output "writer_url" {
  description = "libpq URL of the pillarstream_writer role."
  value       = local.urls["writer"]
  sensitive   = true
}

output "reader_url" {
  description = "libpq URL of the read-only pillarstream_reader role."
  value       = local.urls["reader"]
  sensitive   = true
}
