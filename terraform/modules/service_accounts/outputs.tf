output "emails" {
  description = "Service account e-mail per process name."
  value       = { for name, sa in google_service_account.this : name => sa.email }
}
