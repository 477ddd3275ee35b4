"""Print the schema as SDL, as `strawberry export-schema` would: `python -m app.schema_export`."""

from __future__ import annotations

from strawberry.printer import print_schema

from app.schema import build_schema


def schema_sdl() -> str:
    """The schema of the code, as the SDL committed in schema.graphql."""
    return print_schema(build_schema()) + "\n"


if __name__ == "__main__":
    print(schema_sdl(), end="")
