variable "url" {
  description = "HTTPS URL GitHub posts deliveries to (the receiver's /webhooks/github)."
  type        = string

  validation {
    condition     = startswith(var.url, "https://")
    error_message = "The webhook URL must use HTTPS."
  }
}

variable "secret" {
  description = "Secret GitHub signs deliveries with (X-Hub-Signature-256)."
  type        = string
  sensitive   = true
}

variable "events" {
  description = "Events to send; [\"*\"] sends all of them."
  type        = list(string)
  default     = ["*"]
}
