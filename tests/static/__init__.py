"""Static checks of the deploy artefacts (docker-compose.yml, Dockerfile, terraform/): no Docker, no cloud."""
