# Google Cloud Managed Service for Apache Kafka: the cluster and the raw topic every event passes
# through. The durability settings here are half of the no-loss promise; the other half is the
# producer (acks=all, idempotent) in the receiver, backfill and replay.

resource "google_managed_kafka_cluster" "this" {
  cluster_id = var.name
  location   = var.region
  labels     = var.labels

  capacity_config {
    vcpu_count   = var.vcpus
    memory_bytes = var.memory_gib * 1073741824
  }

  # Brokers get addresses in our subnet only; there is no public endpoint.
  gcp_config {
    access_config {
      network_configs {
        subnet = var.subnet_id
      }
    }
  }

  # Spread partitions onto new brokers when the cluster grows, so scaling up helps at once.
  rebalance_config {
    mode = "AUTO_REBALANCE_ON_SCALE_UP"
  }
}

resource "google_managed_kafka_topic" "raw" {
  topic_id           = var.raw_topic
  cluster            = google_managed_kafka_cluster.this.cluster_id
  location           = var.region
  partition_count    = var.partitions
  replication_factor = 3

  configs = {
    # With acks=all a write is acknowledged once two of three replicas have it: one broker may be
    # lost without losing an acknowledged event, and producers stop rather than accept a write
    # only one broker holds.
    "min.insync.replicas"            = "2"
    "unclean.leader.election.enable" = "false"
    "cleanup.policy"                 = "delete"
    "retention.ms"                   = tostring(var.retention_days * 86400000)
    "max.message.bytes"              = tostring(var.max_message_bytes)
  }
}

# Kafka ACLs on the raw topic: producers may only write, consumers may only read. Both may CREATE
# this one topic because the receiver and workers ensure it exists at start-up (a no-op here, where
# Terraform creates it). Consumer groups and Faust's internal topics keep Managed Kafka's default
# (any principal with the client role).
resource "google_managed_kafka_acl" "raw_topic" {
  acl_id   = "topic/${google_managed_kafka_topic.raw.topic_id}"
  cluster  = google_managed_kafka_cluster.this.cluster_id
  location = var.region

  dynamic "acl_entries" {
    for_each = merge(
      { for name, email in var.producers : "${name}/WRITE" => { email = email, operation = "WRITE" } },
      { for name, email in var.producers : "${name}/DESCRIBE" => { email = email, operation = "DESCRIBE" } },
      { for name, email in var.consumers : "${name}/READ" => { email = email, operation = "READ" } },
      { for name, email in var.consumers : "${name}/DESCRIBE" => { email = email, operation = "DESCRIBE" } },
      { for name, email in merge(var.producers, var.consumers) : "${name}/CREATE" => { email = email, operation = "CREATE" } },
    )
    content {
      principal       = "User:${acl_entries.value.email}"
      permission_type = "ALLOW"
      operation       = acl_entries.value.operation
      host            = "*"
    }
  }
}

locals {
  # The documented bootstrap name; port 9092 is the SASL listener.
  bootstrap = "bootstrap.${google_managed_kafka_cluster.this.cluster_id}.${var.region}.managedkafka.${var.project_id}.cloud.goog:9092"
}
