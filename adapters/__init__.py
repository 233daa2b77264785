"""Adapters every deployable shares: the one place each outside service is reached and its errors are
mapped to the project's (:mod:`pillarstream.errors`).

kafka_client (connection options and credentials for both Kafka client libraries), kafka_publisher
(acknowledged publishing, topic creation), archive_store (gs:// and file:// archives), postgres (connections,
reopened after a transient failure), postgres_errors (what each Postgres failure means), github_client (the
GitHub client factory and its authentication).
"""
