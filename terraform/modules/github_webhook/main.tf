# The organisation webhook: GitHub sends every event to the receiver, signed with the newest secret.

resource "github_organization_webhook" "receiver" {
  active = true
  events = var.events

  configuration {
    url          = var.url
    content_type = "json"
    secret       = var.secret
    insecure_ssl = false
  }
}
