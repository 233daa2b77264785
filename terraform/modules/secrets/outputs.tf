output "ids" {
  description = "Secret id (the name Cloud Run references) per short name."
  value       = { for key, s in google_secret_manager_secret.this : key => s.secret_id }
}

output "versions" {
  description = "Version to mount per short name: the pinned number for managed secrets, latest for the others."
  value = merge(
    { for key in keys(var.secrets) : key => "latest" },
    { for key, v in google_secret_manager_secret_version.managed : key => v.version },
  )
}
