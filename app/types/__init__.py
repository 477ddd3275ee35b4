"""The GraphQL types of the schema, one module per part of the domain."""
