variable "prefix" {
  description = "Prefix of every secret id."
  type        = string
}

variable "secrets" {
  description = "Secrets by short name: a description, whether Terraform writes its value (managed), and the service accounts (by process name) that may read it."
  type = map(object({
    description = string
    managed     = bool
    accessors   = map(string)
  }))
}

variable "values" {
  description = "Values of the managed secrets, by short name. Unmanaged secrets (the GitHub token) are added with gcloud and never pass through Terraform."
  type        = map(string)
  sensitive   = true
  default     = {}
}

variable "labels" {
  description = "Labels on every secret."
  type        = map(string)
  default     = {}
}
