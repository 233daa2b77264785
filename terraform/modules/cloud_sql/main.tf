# The warehouse: Cloud SQL for PostgreSQL on a private IP only, with daily backups and
# point-in-time recovery, and one login role per kind of access.

resource "google_sql_database_instance" "this" {
  # checkov:skip=CKV_GCP_6:TLS is enforced (ssl_mode ENCRYPTED_ONLY) on a private-IP-only instance; client certificates would have to be issued and rotated for every Cloud Run process, and password authentication from Secret Manager already identifies each role.
  # checkov:skip=CKV2_GCP_13:log_duration writes one line per statement and the warehouse runs thousands a minute; slow queries are found with Query Insights (enabled below) instead.
  name                = var.name
  region              = var.region
  database_version    = var.database_version
  deletion_protection = var.deletion_protection

  settings {
    tier                        = var.tier
    edition                     = "ENTERPRISE"
    availability_type           = var.high_availability ? "REGIONAL" : "ZONAL"
    disk_type                   = "PD_SSD"
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection
    user_labels                 = var.labels

    # No public IP at all; every client connects over the VPC and must use TLS.
    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = var.backup_start_time
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.log_retention_days

      backup_retention_settings {
        retained_backups = var.retained_backups
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 4
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_client_address   = false
      record_application_tags = false
    }

    # Logging flags: who connected, what failed, DDL and role changes (pgAudit), without logging
    # ordinary statements, which carry repository names and payload fragments.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "pgaudit.log"
      value = "ddl,role"
    }
  }
}

resource "google_sql_database" "warehouse" {
  name     = var.database_name
  instance = google_sql_database_instance.this.name
}

# owner runs migrations; writer is the workers' role; reader is read-only on the reporting views.
# The migrations grant privileges to these names; see docs/operations.md for revoking the
# cloudsqlsuperuser membership Cloud SQL gives every user it creates.
locals {
  roles = toset(["owner", "writer", "reader"])
}

resource "random_password" "users" {
  for_each = local.roles
  length   = 40
  special  = false # the password goes into a URL
}

resource "google_sql_user" "users" {
  for_each = local.roles
  name     = "pillarstream_${each.key}"
  instance = google_sql_database_instance.this.name
  password = random_password.users[each.key].result
  # Roles that own objects cannot be dropped by the API; leave them to the database on destroy.
  deletion_policy = "ABANDON"
}

locals {
  host = google_sql_database_instance.this.private_ip_address
  urls = {
    for role, user in google_sql_user.users :
    role => "postgresql://${user.name}:${random_password.users[role].result}@${local.host}:5432/${google_sql_database.warehouse.name}?sslmode=require"
  }
}
