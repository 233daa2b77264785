"""Webhook receiver: verifies GitHub deliveries and publishes them to Kafka before answering 202."""

from receiver.app import create_app

__all__ = ["create_app"]
