"""The ingest side: Kafka topic -> validated events -> usage rows and aggregates."""
