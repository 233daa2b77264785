variable "name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "location" {
  description = "Bucket location: the region of the workers, so archiving does not cross regions."
  type        = string
}

variable "labels" {
  description = "Labels on the bucket."
  type        = map(string)
  default     = {}
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a bucket that still holds objects. Keep false in production."
  type        = bool
  default     = false
}

variable "writers" {
  description = "Service accounts (by process name) that create archive objects."
  type        = map(string)
  default     = {}
}

variable "readers" {
  description = "Service accounts (by process name) that read archive objects, e.g. replay."
  type        = map(string)
  default     = {}
}

variable "nearline_after_days" {
  description = "Age in days at which objects move from STANDARD to NEARLINE."
  type        = number
  default     = 30
}

variable "coldline_after_days" {
  description = "Age in days at which objects move from NEARLINE to COLDLINE."
  type        = number
  default     = 90
}

variable "archive_after_days" {
  description = "Age in days at which objects move from COLDLINE to ARCHIVE."
  type        = number
  default     = 365
}

variable "noncurrent_retention_days" {
  description = "Days a replaced or deleted object version is kept before it is removed."
  type        = number
  default     = 90
}

variable "soft_delete_days" {
  description = "Days a deleted object stays restorable through soft delete."
  type        = number
  default     = 7
}
