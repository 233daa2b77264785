variable "name" {
  description = "Cloud SQL instance name."
  type        = string
}

variable "region" {
  description = "Region of the instance."
  type        = string
}

variable "database_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "POSTGRES_18"
}

variable "tier" {
  description = "Machine tier, e.g. db-custom-2-7680."
  type        = string
}

variable "high_availability" {
  description = "Regional instance with a standby in another zone and automatic failover."
  type        = bool
  default     = true
}

variable "network_id" {
  description = "VPC network the private IP is allocated in (needs private services access)."
  type        = string
}

variable "database_name" {
  description = "Name of the warehouse database."
  type        = string
  default     = "pillarstream"
}

variable "deletion_protection" {
  description = "Block deletion of the instance from Terraform and from the API."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on the instance."
  type        = map(string)
  default     = {}
}

variable "backup_start_time" {
  description = "UTC start (HH:MM) of the daily backup window."
  type        = string
  default     = "02:00"
}

variable "retained_backups" {
  description = "Daily backups kept."
  type        = number
  default     = 14
}

variable "log_retention_days" {
  description = "Days of write-ahead log kept for point-in-time recovery (1-7)."
  type        = number
  default     = 7
}
