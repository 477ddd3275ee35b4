"""simusage: mobile-data usage analytics, from a Kafka stream to a GraphQL API."""
