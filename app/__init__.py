"""The API side: GraphQL over the usage aggregates."""
