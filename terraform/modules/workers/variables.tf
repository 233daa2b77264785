variable "prefix" {
  description = "Prefix of the worker pool names."
  type        = string
}

variable "region" {
  description = "Region of the worker pools."
  type        = string
}

variable "image" {
  description = "Container image."
  type        = string
}

variable "pools" {
  description = "Worker pools by consumer name: arguments, environment, secret environment, service account and instance count."
  type = map(object({
    args            = list(string)
    env             = map(string)
    secret_env      = map(object({ secret = string, version = string }))
    service_account = string
    instances       = number
  }))
}

variable "network" {
  description = "VPC network for Direct VPC egress."
  type        = string
}

variable "subnetwork" {
  description = "Subnet for Direct VPC egress."
  type        = string
}

variable "cpu" {
  description = "vCPUs per worker instance."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory per worker instance; a batch can hold several 25 MB payloads."
  type        = string
  default     = "2Gi"
}

variable "deletion_protection" {
  description = "Block `terraform destroy` of the worker pools."
  type        = bool
  default     = true
}
