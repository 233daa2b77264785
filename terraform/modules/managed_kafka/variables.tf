variable "name" {
  description = "Cluster id (1-63 characters, lowercase letters, digits and hyphens)."
  type        = string
}

variable "region" {
  description = "Region of the cluster; the same as the subnet's."
  type        = string
}

variable "project_id" {
  description = "Project of the cluster, part of its bootstrap address."
  type        = string
}

variable "subnet_id" {
  description = "Subnet (projects/P/regions/R/subnetworks/S) where the brokers get their addresses."
  type        = string
}

variable "vcpus" {
  description = "Cluster vCPUs (minimum 3)."
  type        = number
  default     = 3
}

variable "memory_gib" {
  description = "Cluster memory in GiB (1 to 8 per vCPU)."
  type        = number
  default     = 6
}

variable "raw_topic" {
  description = "Name of the raw GitHub event topic."
  type        = string
}

variable "partitions" {
  description = "Partitions of the raw topic; bounds the useful number of consumers per group. Can only grow."
  type        = number
}

variable "retention_days" {
  description = "Days the raw topic keeps records."
  type        = number
  default     = 7
}

variable "max_message_bytes" {
  description = "Largest record the raw topic accepts."
  type        = number
}

variable "producers" {
  description = "Service accounts (by process name) allowed to write the raw topic."
  type        = map(string)
  default     = {}
}

variable "consumers" {
  description = "Service accounts (by process name) allowed to read the raw topic."
  type        = map(string)
  default     = {}
}

variable "labels" {
  description = "Labels on the cluster."
  type        = map(string)
  default     = {}
}
