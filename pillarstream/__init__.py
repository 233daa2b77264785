"""pillarstream: GitHub activity to four-pillar engineering metrics, through Kafka."""

__version__ = "0.1.0"
