"""The SQL of the API: named, parameterised statements beside the functions that run them."""
