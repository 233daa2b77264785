variable "project_id" {
  description = "Project the service accounts live in."
  type        = string
}

variable "prefix" {
  description = "Prefix of every account id (account ids are 6-30 characters)."
  type        = string
}

variable "processes" {
  description = "Process names; each gets its own service account."
  type        = list(string)
}

variable "project_roles" {
  description = "Project-level roles per process, only for services without resource-level IAM (Managed Kafka's client role)."
  type        = map(list(string))
  default     = {}
}
