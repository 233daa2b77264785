output "hook_id" {
  description = "Id of the organisation webhook (for `gh api orgs/ORG/hooks/ID/deliveries`)."
  value       = github_organization_webhook.receiver.id
}
