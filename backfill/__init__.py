"""History from the GitHub REST API, published like webhooks (source=backfill): resumable, within rate
limits, converging with the stream. See docs/backfill.md.

Modules: resources (what is read, as data), envelopes (REST item → webhook-shaped envelope), github_api
(the PyGithub adapter), ratelimit (budget and waits), archive (raw pages), cursors (Postgres), sweep (the
resumable fetch-archive-publish loop), flows and owner (per resource), pushes and timeline (pure
reconstruction of pushes and pull-request transitions), windows, runner, plan (dry run), progress, cli.
"""
