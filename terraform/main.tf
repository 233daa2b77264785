# pillarstream on Google Cloud: one container image, one service account per process, every
# process wired from the table in local.processes below. docs/operations.md walks through a deploy.

locals {
  apis = [
    "artifactregistry.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "managedkafka.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
  ]

  archive_bucket = var.archive_bucket_name != "" ? var.archive_bucket_name : "${var.project_id}-pillarstream-archive"
  archive_url    = "gs://${module.archive.bucket_name}/${var.archive_prefix}"

  # Variables shared by several processes, grouped so each process below lists only what it needs.
  env_sets = {
    log = {
      PILLARSTREAM_LOG_FORMAT = "json"
      PILLARSTREAM_LOG_LEVEL  = "INFO"
    }
    kafka = {
      PILLARSTREAM_KAFKA_BOOTSTRAP   = module.kafka.bootstrap_servers
      PILLARSTREAM_RAW_TOPIC         = module.kafka.raw_topic
      PILLARSTREAM_TOPIC_PARTITIONS  = tostring(var.topic_partitions)
      PILLARSTREAM_TOPIC_REPLICATION = "3"
      # Managed Kafka only accepts authenticated TLS: SASL with a Google OAuth token of the
      # process's own service account (no key files, no passwords); docs/operations.md, "Kafka security settings".
      PILLARSTREAM_KAFKA_SECURITY_PROTOCOL = "SASL_SSL"
      PILLARSTREAM_KAFKA_SASL_MECHANISM    = "OAUTHBEARER"
    }
    archive = {
      PILLARSTREAM_ARCHIVE_URL = local.archive_url
    }
    github = {
      PILLARSTREAM_GITHUB_API_URL = var.github_api_url
    }
  }

  # One row per process: its command, its plain settings and the secrets it mounts. IAM on the
  # secrets is derived from this table, so a process can read exactly the secrets listed here.
  processes = {
    receiver = {
      args     = ["receiver", "--bind", "0.0.0.0:8080", "--workers", tostring(var.receiver_workers), "--threads", tostring(var.receiver_threads)]
      env_sets = ["log", "kafka"]
      env      = { PILLARSTREAM_PUBLISH_TIMEOUT_SECONDS = "5" }
      secrets  = { PILLARSTREAM_WEBHOOK_SECRETS = "webhook-secrets" }
    }
    archiver = {
      args     = ["worker", "archiver"]
      env_sets = ["log", "kafka", "archive"]
      env      = {}
      secrets  = {}
    }
    warehouse = {
      args     = ["worker", "warehouse"]
      env_sets = ["log", "kafka"]
      env      = {}
      secrets  = { PILLARSTREAM_DATABASE_URL = "db-writer-url" }
    }
    backfill = {
      args     = ["backfill", "--org", var.github_org]
      env_sets = ["log", "kafka", "archive", "github"]
      env      = {}
      secrets  = { PILLARSTREAM_DATABASE_URL = "db-writer-url", PILLARSTREAM_GITHUB_TOKEN = "github-token" }
    }
    reconciler = {
      args     = ["webhook", "redeliver", "--org", var.github_org]
      env_sets = ["log", "github"]
      env      = {}
      secrets  = { PILLARSTREAM_GITHUB_TOKEN = "github-token" }
    }
    migrate = {
      args     = ["migrate"]
      env_sets = ["log"]
      env      = {}
      secrets  = { PILLARSTREAM_DATABASE_URL = "db-owner-url" }
    }
    replay = {
      # Run with explicit dates: gcloud run jobs execute ... --args=replay,--from,DATE,--to,DATE
      args     = ["replay", "--help"]
      env_sets = ["log", "kafka", "archive"]
      env      = {}
      secrets  = {}
    }
  }

  process_env = {
    for name, p in local.processes : name => merge(concat([for s in p.env_sets : local.env_sets[s]], [p.env])...)
  }
  process_secrets = {
    for name, p in local.processes : name => {
      for var_name, key in p.secrets : var_name => {
        secret  = module.secrets.ids[key]
        version = module.secrets.versions[key]
      }
    }
  }

  secret_specs = {
    "webhook-secrets" = { managed = true, description = "Active GitHub webhook secrets, comma-separated; the receiver accepts any of them." }
    "github-token"    = { managed = false, description = "GitHub token for backfill and the reconciler; add versions with gcloud so it never enters Terraform state." }
    "db-writer-url"   = { managed = true, description = "libpq URL of the pillarstream_writer role (workers, backfill)." }
    "db-reader-url"   = { managed = true, description = "libpq URL of the read-only pillarstream_reader role (Superset, analysts)." }
    "db-owner-url"    = { managed = true, description = "libpq URL of the schema owner; only the migrate job reads it." }
  }

  # GitHub signs with the newest generation; the receiver accepts all listed ones during a rotation.
  webhook_generations = [for g in var.webhook_secret_generations : tostring(g)]
  newest_generation   = tostring(max(var.webhook_secret_generations...))

  kafka_producers = ["receiver", "backfill", "replay"]
  kafka_consumers = ["archiver", "warehouse"]
}

resource "google_project_service" "apis" {
  for_each           = toset(local.apis)
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84:Images contain only open-source code and no data; Google-managed encryption at rest is enough, and a KMS key would add a key ring to own and rotate.
  repository_id = var.name_prefix
  location      = var.region
  format        = "DOCKER"
  description   = "pillarstream container images"

  # A tag always means the same image, so a Cloud Run revision can be traced to its build.
  docker_config {
    immutable_tags = true
  }

  depends_on = [google_project_service.apis]
}

resource "random_password" "webhook" {
  for_each = toset(local.webhook_generations)
  length   = 48
  special  = false
}

module "service_accounts" {
  source     = "./modules/service_accounts"
  project_id = var.project_id
  prefix     = var.name_prefix
  processes  = concat(keys(local.processes), ["scheduler"])
  project_roles = {
    for name in concat(local.kafka_producers, local.kafka_consumers) : name => ["roles/managedkafka.client"]
  }

  depends_on = [google_project_service.apis]
}

module "network" {
  source = "./modules/network"
  name   = var.name_prefix
  region = var.region

  depends_on = [google_project_service.apis]
}

module "archive" {
  source        = "./modules/archive_bucket"
  name          = local.archive_bucket
  location      = var.region
  labels        = var.labels
  force_destroy = !var.deletion_protection
  # Keyed by process name: keys must be known at plan time, e-mail addresses are not.
  writers = { for p in ["archiver", "backfill"] : p => module.service_accounts.emails[p] }
  # The archiver and the backfill list a folder before writing (to skip what a crashed run already wrote);
  # the archiver also reads its index of archived delivery ids (_dedupe/), so a redelivery is archived once.
  readers = { for p in ["archiver", "backfill", "replay"] : p => module.service_accounts.emails[p] }
}

module "database" {
  source              = "./modules/cloud_sql"
  name                = "${var.name_prefix}-pg"
  region              = var.region
  tier                = var.db_tier
  high_availability   = var.db_high_availability
  network_id          = module.network.network_id
  deletion_protection = var.deletion_protection
  labels              = var.labels

  # Private IP needs the service-networking peering to exist first.
  depends_on = [module.network]
}

module "kafka" {
  source            = "./modules/managed_kafka"
  name              = "${var.name_prefix}-kafka"
  region            = var.region
  project_id        = var.project_id
  subnet_id         = module.network.subnet_id
  vcpus             = var.kafka_vcpus
  memory_gib        = var.kafka_memory_gib
  raw_topic         = var.raw_topic
  partitions        = var.topic_partitions
  retention_days    = var.kafka_retention_days
  max_message_bytes = var.max_message_bytes
  producers         = { for p in local.kafka_producers : p => module.service_accounts.emails[p] }
  consumers         = { for p in local.kafka_consumers : p => module.service_accounts.emails[p] }
  labels            = var.labels

  depends_on = [google_project_service.apis]
}

module "secrets" {
  source  = "./modules/secrets"
  prefix  = var.name_prefix
  secrets = {
    for key, spec in local.secret_specs : key => {
      description = spec.description
      managed     = spec.managed
      accessors = {
        for name, p in local.processes : name => module.service_accounts.emails[name] if contains(values(p.secrets), key)
      }
    }
  }
  values = {
    "webhook-secrets" = join(",", [for g in local.webhook_generations : random_password.webhook[g].result])
    "db-writer-url"   = module.database.writer_url
    "db-reader-url"   = module.database.reader_url
    "db-owner-url"    = module.database.owner_url
  }

  depends_on = [google_project_service.apis]
}

module "receiver" {
  source              = "./modules/receiver"
  name                = "${var.name_prefix}-receiver"
  region              = var.region
  image               = var.image
  args                = local.processes.receiver.args
  env                 = local.process_env.receiver
  secret_env          = local.process_secrets.receiver
  service_account     = module.service_accounts.emails["receiver"]
  network             = module.network.network_id
  subnetwork          = module.network.subnet_id
  min_instances       = var.receiver_min_instances
  max_instances       = var.receiver_max_instances
  concurrency         = var.receiver_workers * var.receiver_threads
  deletion_protection = var.deletion_protection
}

module "workers" {
  source              = "./modules/workers"
  prefix              = var.name_prefix
  region              = var.region
  image               = var.image
  network             = module.network.network_id
  subnetwork          = module.network.subnet_id
  deletion_protection = var.deletion_protection
  pools = {
    for name, instances in { archiver = var.archiver_instances, warehouse = var.warehouse_instances } : name => {
      args            = local.processes[name].args
      env             = local.process_env[name]
      secret_env      = local.process_secrets[name]
      service_account = module.service_accounts.emails[name]
      instances       = instances
    }
  }
}

module "jobs" {
  source              = "./modules/jobs"
  prefix              = var.name_prefix
  region              = var.region
  image               = var.image
  network             = module.network.network_id
  subnetwork          = module.network.subnet_id
  scheduler_account   = module.service_accounts.emails["scheduler"]
  deletion_protection = var.deletion_protection
  jobs = {
    for name, schedule in { migrate = null, backfill = var.backfill_schedule, reconciler = var.reconciler_schedule, replay = null } : name => {
      args            = local.processes[name].args
      env             = local.process_env[name]
      secret_env      = local.process_secrets[name]
      service_account = module.service_accounts.emails[name]
      schedule        = schedule
      # A backfill of a large organisation runs for hours; the others finish in minutes.
      timeout_seconds = name == "backfill" || name == "replay" ? 86400 : 600
    }
  }
}

module "github_webhook" {
  source = "./modules/github_webhook"
  url    = "${module.receiver.url}/webhooks/github"
  secret = random_password.webhook[local.newest_generation].result
  events = var.github_events

  # The receiver must be serving a revision that knows the new secret before GitHub starts
  # signing with it: this ordering is what makes a secret rotation lose no delivery.
  depends_on = [module.receiver]
}
