variable "prefix" {
  description = "Prefix of the job and schedule names."
  type        = string
}

variable "region" {
  description = "Region of the jobs and schedules."
  type        = string
}

variable "image" {
  description = "Container image."
  type        = string
}

variable "jobs" {
  description = "Jobs by name: arguments, environment, secret environment, service account, cron schedule (null = run by hand) and task timeout."
  type = map(object({
    args            = list(string)
    env             = map(string)
    secret_env      = map(object({ secret = string, version = string }))
    service_account = string
    schedule        = optional(string)
    timeout_seconds = number
  }))
}

variable "scheduler_account" {
  description = "E-mail of the service account Cloud Scheduler uses to start jobs."
  type        = string
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
  description = "vCPUs per job task."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory per job task."
  type        = string
  default     = "2Gi"
}

variable "deletion_protection" {
  description = "Block `terraform destroy` of the jobs."
  type        = bool
  default     = true
}
