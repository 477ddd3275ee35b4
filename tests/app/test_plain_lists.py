"""Plain lists completed in one pass give graphql-core's own answers and errors."""

from __future__ import annotations

import asyncio
from enum import Enum

import pytest
import strawberry
from hypothesis import given, settings
from hypothesis import strategies as st

from app.plain_lists import Plan, PlainListExecutionContext, check_seam
from app.schema import build_schema


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    number: int
    label: str | None
    colour: Colour


@strawberry.type
class Item:
    name: str
    leaf: Leaf
    optional_leaf: Leaf | None
    # non-null in the schema, None in some rows: graphql-core's error, never a silent null
    strict: int

    @strawberry.field
    def computed(self) -> str:
        return self.name.upper()


ROWS = [Item(name=f"item{n}", leaf=Leaf(number=n, label=None if n % 2 else "even",
                                        colour=Colour.RED if n % 3 else Colour.BLUE),
             optional_leaf=None if n % 2 else Leaf(number=-n, label="x", colour=Colour.BLUE),
             strict=n) for n in range(5)]
BROKEN = [*ROWS[:2], Item(name="broken", leaf=ROWS[0].leaf, optional_leaf=None, strict=None)]


@strawberry.type
class Query:
    @strawberry.field
    def items(self, broken: bool = False) -> list[Item]:
        return BROKEN if broken else ROWS

    @strawberry.field
    def maybe_items(self) -> list[Item | None]:
        return [ROWS[0], None, ROWS[1]]


PLAIN = strawberry.Schema(Query, execution_context_class=PlainListExecutionContext)
REFERENCE = strawberry.Schema(Query)


def results(query: str, variables: dict | None = None) -> tuple[tuple, tuple]:
    """(data, errors) of query under both execution contexts."""
    def run(schema: strawberry.Schema) -> tuple:
        result = asyncio.run(schema.execute(query, variable_values=variables))
        return result.data, [(error.message, error.path) for error in result.errors or []]
    return run(PLAIN), run(REFERENCE)


FIELDS = ["name", "strict", "__typename", "computed", "leaf { number label colour __typename }",
          "optionalLeaf { number label }", "leaf { ... on Leaf { number } }",
          "leaf { number @include(if: $flag) label @skip(if: $flag) }"]


@settings(max_examples=150, deadline=None)
@given(selection=st.lists(st.tuples(st.sampled_from(FIELDS), st.booleans()), min_size=1,
                          max_size=6),
       broken=st.booleans(), flag=st.booleans(), fragment=st.booleans())
def test_any_selection_gives_the_libraries_answer(selection: list, broken: bool, flag: bool,
                                                  fragment: bool) -> None:
    fields = " ".join(f"a{index}: {field}" if aliased else field
                      for index, (field, aliased) in enumerate(selection))
    body = "...Fields" if fragment else fields
    query = (f"query ($flag: Boolean!) {{ items(broken: {str(broken).lower()}) {{ {body} }} "
             f"maybeItems {{ name }} }}"
             + (f" fragment Fields on Item {{ {fields} }}" if fragment else ""))
    plain, reference = results(query, {"flag": flag})
    assert plain == reference


def test_a_null_in_a_non_null_field_is_the_libraries_error() -> None:
    plain, reference = results("{ items(broken: true) { name strict } }")
    assert plain == reference and plain[1] and plain[0] is None


def test_plain_items_take_the_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    completed = []
    complete = Plan.complete
    monkeypatch.setattr(Plan, "complete", lambda plan, source, info: completed.append(source)
                        or complete(plan, source, info))
    plain, reference = results("{ items { name leaf { number colour } } }")
    assert plain == reference
    assert [source for source in completed if isinstance(source, Item)] == ROWS
    completed.clear()
    results("{ items { computed } }")  # a resolver: graphql-core's way
    assert completed == []


def test_the_seam_is_checked_at_start() -> None:
    schema = build_schema()
    try:
        assert check_seam(schema._schema, "UsageBucket", "bytesUsed")
        assert not check_seam(schema._schema, "UsageConnection", "edges")  # has a resolver
        assert PlainListExecutionContext.enabled is False
    finally:
        check_seam(schema._schema, "UsageBucket", "bytesUsed")
    assert PlainListExecutionContext.enabled is True


@pytest.mark.parametrize("plain_lists", [True, False])
def test_the_api_schema_builds_either_way(plain_lists: bool) -> None:
    assert build_schema(plain_lists=plain_lists).as_str()
