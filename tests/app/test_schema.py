"""The schema of the code: committed as schema.graphql, no breaking change from the contract,
and a description on everything a client reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    build_schema,
    find_breaking_changes,
)

from app.schema import build_schema as build_app_schema
from app.schema_export import schema_sdl

ROOT = Path(__file__).resolve().parents[2]
# The product owner's contract, copied into the repository so that a clean clone can check it;
# SHARED_CONTRACT is where it is published, beside the checkout on development machines.
CONTRACT = Path(__file__).with_name("contract.graphql")
SHARED_CONTRACT = ROOT.parent / "shared" / "contract.graphql"


def test_schema_graphql_is_the_schema_of_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == schema_sdl(), (
        "schema.graphql is stale: run `python -m app.schema_export > schema.graphql`"
    )


def test_no_breaking_change_from_the_contract() -> None:
    contract = build_schema(CONTRACT.read_text())
    ours = build_schema(schema_sdl())
    assert find_breaking_changes(contract, ours) == []


def test_everything_has_a_description() -> None:
    schema = build_app_schema()._schema
    missing = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Boolean", "Int", "Float", "ID"):
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for argument_name, argument in getattr(field, "args", {}).items():
                    if not argument.description:
                        missing.append(f"{name}.{field_name}({argument_name})")
        if isinstance(graphql_type, GraphQLEnumType):
            missing += [f"{name}.{value}" for value, enum in graphql_type.values.items()
                        if not enum.description]
    assert missing == []


def test_validation_runs_once_per_query_text(runner, monkeypatch) -> None:
    # strawberry issue 4635: limiters that build their rules per request defeat this cache.
    import strawberry.schema.schema as strawberry_schema

    calls = []
    validate = strawberry_schema.validate

    def counting(*arguments, **keywords):
        calls.append(1)
        return validate(*arguments, **keywords)

    monkeypatch.setattr(strawberry_schema, "validate", counting)
    query = "query ValidatedOnce { organizations { totalCount } }"
    for _ in range(3):
        runner.data(query)
    assert len(calls) == 1


@pytest.mark.skipif(not SHARED_CONTRACT.exists(), reason="no published contract beside this checkout")
def test_the_contract_copy_is_the_published_contract() -> None:
    assert CONTRACT.read_text() == SHARED_CONTRACT.read_text()
