variable "name" {
  description = "Cloud Run service name."
  type        = string
}

variable "region" {
  description = "Region of the service."
  type        = string
}

variable "image" {
  description = "Container image."
  type        = string
}

variable "args" {
  description = "Arguments to the image's pillarstream entry point."
  type        = list(string)
}

variable "env" {
  description = "Plain environment variables."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Environment variables resolved from Secret Manager: name => { secret, version }."
  type        = map(object({ secret = string, version = string }))
  default     = {}
}

variable "service_account" {
  description = "E-mail of the service account the receiver runs as."
  type        = string
}

variable "network" {
  description = "VPC network for Direct VPC egress (Kafka brokers are only reachable there)."
  type        = string
}

variable "subnetwork" {
  description = "Subnet for Direct VPC egress."
  type        = string
}

variable "min_instances" {
  description = "Instances kept warm."
  type        = number
  default     = 1
}

variable "max_instances" {
  description = "Upper bound on instances."
  type        = number
  default     = 20
}

variable "concurrency" {
  description = "Requests per instance; match gunicorn workers x threads so requests never queue inside an instance."
  type        = number
  default     = 16
}

variable "request_timeout_seconds" {
  description = "Request timeout; must stay under GitHub's 10 s delivery timeout."
  type        = number
  default     = 9

  validation {
    condition     = var.request_timeout_seconds >= 1 && var.request_timeout_seconds < 10
    error_message = "request_timeout_seconds must be below GitHub's 10 s delivery timeout."
  }
}

variable "cpu" {
  description = "vCPUs per instance."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory per instance; a delivery can be 25 MB and several are in flight at once."
  type        = string
  default     = "2Gi"
}

variable "deletion_protection" {
  description = "Block `terraform destroy` of the service."
  type        = bool
  default     = true
}
