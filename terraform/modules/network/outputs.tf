output "network_id" {
  description = "Id of the VPC network (projects/P/global/networks/N)."
  value       = google_compute_network.this.id
}

output "subnet_id" {
  description = "Id of the regional subnet (projects/P/regions/R/subnetworks/S)."
  value       = google_compute_subnetwork.this.id
}

output "private_services_connection" {
  description = "The service-networking peering; Cloud SQL's private IP depends on it."
  value       = google_service_networking_connection.private_services.id
}
