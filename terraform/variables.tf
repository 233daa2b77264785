# Inputs of the whole deployment. Only project_id, image and github_org have no default;
# terraform.tfvars.example shows a complete file.

variable "project_id" {
  description = "Google Cloud project that holds every resource."
  type        = string
}

variable "region" {
  description = "Region for Cloud Run, Cloud SQL, Managed Kafka, the bucket and the scheduler."
  type        = string
  default     = "europe-west1"
}

variable "name_prefix" {
  description = "Prefix of every resource name; keep it short, service account ids are capped at 30 characters."
  type        = string
  default     = "pillarstream"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,15}$", var.name_prefix))
    error_message = "name_prefix must be 3-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Extra labels added to every resource that supports labels."
  type        = map(string)
  default     = {}
}

variable "image" {
  description = "Container image built from the repository's Dockerfile, e.g. REGION-docker.pkg.dev/PROJECT/pillarstream/pillarstream:1.0.0. Every process runs this one image with different arguments."
  type        = string
}

# --- GitHub ---------------------------------------------------------------------------------------

variable "github_org" {
  description = "GitHub organisation whose webhook points at the receiver and whose history the backfill loads."
  type        = string
}

variable "github_api_url" {
  description = "GitHub REST API base URL; change it for GitHub Enterprise Server."
  type        = string
  default     = "https://api.github.com"
}

variable "github_events" {
  description = "Events the organisation webhook sends. \"*\" sends all: events no metric uses are still archived."
  type        = list(string)
  default     = ["*"]
}

variable "webhook_secret_generations" {
  description = "Generations of the webhook secret the receiver accepts. GitHub signs with the highest. Rotate by appending a new number, apply, then drop the old one and apply again (docs/operations.md)."
  type        = list(number)
  default     = [1]

  validation {
    condition     = length(var.webhook_secret_generations) >= 1 && length(var.webhook_secret_generations) <= 3
    error_message = "Keep one to three generations active: more is never needed for a rotation."
  }
}

# --- Kafka ----------------------------------------------------------------------------------------

variable "raw_topic" {
  description = "Kafka topic of raw GitHub events (keyed by repository)."
  type        = string
  default     = "github.events.raw"
}

variable "topic_partitions" {
  description = "Partitions of the raw topic: the ceiling on worker instances per consumer group. Can only grow."
  type        = number
  default     = 12
}

variable "kafka_vcpus" {
  description = "vCPUs of the Managed Kafka cluster (minimum 3)."
  type        = number
  default     = 3
}

variable "kafka_memory_gib" {
  description = "Memory of the Managed Kafka cluster in GiB (1 to 8 GiB per vCPU)."
  type        = number
  default     = 6
}

variable "kafka_retention_days" {
  description = "How long the raw topic keeps records. The archive keeps them forever; Kafka only needs to outlast the longest worker outage."
  type        = number
  default     = 7
}

variable "max_message_bytes" {
  description = "Largest record the raw topic accepts: GitHub's 25 MB body cap plus the envelope."
  type        = number
  default     = 29360128
}

# --- Storage --------------------------------------------------------------------------------------

variable "archive_bucket_name" {
  description = "Globally unique name of the raw-event archive bucket; defaults to PROJECT-pillarstream-archive."
  type        = string
  default     = ""
}

variable "archive_prefix" {
  description = "Object prefix inside the archive bucket."
  type        = string
  default     = "raw"
}

variable "db_tier" {
  description = "Cloud SQL machine tier."
  type        = string
  default     = "db-custom-2-7680"
}

variable "db_high_availability" {
  description = "Run Cloud SQL as a regional (primary + standby) instance. Turn off only for a trial."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the database, the bucket's contents and the Cloud Run resources from `terraform destroy`."
  type        = bool
  default     = true
}

# --- Processes ------------------------------------------------------------------------------------

variable "receiver_min_instances" {
  description = "Receiver instances kept warm, so a delivery never waits for a cold start against GitHub's 10 s timeout."
  type        = number
  default     = 1
}

variable "receiver_max_instances" {
  description = "Upper bound on receiver instances."
  type        = number
  default     = 20
}

variable "receiver_workers" {
  description = "gunicorn worker processes per receiver instance."
  type        = number
  default     = 2
}

variable "receiver_threads" {
  description = "Threads per gunicorn worker; workers x threads is the instance's request concurrency."
  type        = number
  default     = 8
}

variable "archiver_instances" {
  description = "Archiver worker instances (one consumer group); at most topic_partitions do work."
  type        = number
  default     = 1
}

variable "warehouse_instances" {
  description = "Warehouse worker instances (one consumer group); at most topic_partitions do work."
  type        = number
  default     = 2
}

variable "backfill_schedule" {
  description = "Cron schedule (UTC) of the backfill job; it resumes from its cursors, so a daily run only fetches what is new."
  type        = string
  default     = "17 3 * * *"
}

variable "reconciler_schedule" {
  description = "Cron schedule (UTC) of the reconciler, which asks GitHub to redeliver failed webhook deliveries."
  type        = string
  default     = "*/5 * * * *"
}
