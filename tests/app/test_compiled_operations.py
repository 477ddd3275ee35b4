"""Compiled plans on a schema of their own: graphql-core's data where it has no errors, a
Fallback wherever graphql-core would report one (the prepared path then runs graphql-core)."""

from __future__ import annotations

import asyncio

from graphql import OperationDefinitionNode, parse
from hypothesis import given, settings
from hypothesis import strategies as st

from app.compiled_operations import compile_operation
from app.compiled_runs import Fallback
from tests.app.test_plain_lists import FIELDS, REFERENCE


def compiled_or_reference(query: str, variables: dict | None = None) -> tuple[object, object]:
    """(the compiled run's data, or "fallback" / "not compiled"; graphql-core's data, or its
    errors' messages)."""
    document = parse(query)
    operation = next(definition for definition in document.definitions
                     if isinstance(definition, OperationDefinitionNode))
    reference = asyncio.run(REFERENCE.execute(query, variable_values=variables))
    expected = reference.data if not reference.errors else "errors"
    compiled = compile_operation(REFERENCE, document, operation)
    if compiled is None:
        return "not compiled", expected
    try:
        return asyncio.run(compiled.run(None, variables)), expected
    except Fallback:
        return "fallback", expected


@settings(max_examples=150, deadline=None)
@given(selection=st.lists(st.tuples(st.sampled_from(FIELDS), st.booleans()), min_size=1,
                          max_size=6),
       broken=st.booleans(), flag=st.booleans(), fragment=st.booleans())
def test_a_compiled_run_gives_the_data_or_falls_back_where_errors_are(
        selection: list, broken: bool, flag: bool, fragment: bool) -> None:
    fields = " ".join(f"a{index}: {field}" if aliased else field
                      for index, (field, aliased) in enumerate(selection))
    body = "...Fields" if fragment else fields
    directives = "@" in fields  # the only use of $flag: declared only then (validation)
    query = (("query ($flag: Boolean!) " if directives else "query ")
             + f"{{ items(broken: {str(broken).lower()}) {{ {body} }} maybeItems {{ name }} }}"
             + (f" fragment Fields on Item {{ {fields} }}" if fragment else ""))
    compiled, expected = compiled_or_reference(query, {"flag": flag} if directives else None)
    if "@" in query:
        assert compiled == "not compiled"
    elif expected == "errors":
        assert compiled == "fallback"  # a null in `strict`: graphql-core says where
    else:
        assert compiled == expected


def test_nulls_items_and_resolvers() -> None:
    assert compiled_or_reference("{ maybeItems { name leaf { number } } }") == \
        compiled_or_reference("{ maybeItems { name leaf { number } } }")[::-1]
    compiled, expected = compiled_or_reference("{ items { computed name } }")
    assert compiled == expected and compiled["items"][0] == {"computed": "ITEM0", "name": "item0"}
    assert compiled_or_reference("{ items(broken: true) { name strict } }") == \
        ("fallback", "errors")
    assert compiled_or_reference("{ __schema { queryType { name } } }")[0] == "not compiled"
