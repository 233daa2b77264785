variable "name" {
  description = "Name of the VPC network; the subnet and peering range are named after it."
  type        = string
}

variable "region" {
  description = "Region of the subnet (the same as Cloud Run, Cloud SQL and Kafka)."
  type        = string
}

variable "cidr" {
  description = "Subnet range. Direct VPC egress takes addresses from it for every Cloud Run instance, so leave room to scale."
  type        = string
  default     = "10.20.0.0/20"
}

variable "private_services_prefix_length" {
  description = "Size of the range reserved for Google-managed services such as Cloud SQL."
  type        = number
  default     = 20
}
