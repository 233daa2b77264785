"""Real local services for `pillarstream up` and the test harness: Kafka (KRaft), PostgreSQL, GCS emulator.

Nothing here is used in production; it makes one machine behave like the deployed stack.
"""
