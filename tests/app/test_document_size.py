"""The expanded size of documents, and the exponential-fragment document it stops."""

from __future__ import annotations

import re
import sys
import threading

from graphql import build_schema as build_graphql_schema
from graphql import parse, validate
from hypothesis import given, settings
from hypothesis import strategies as st

from app.document_size import expanded_size
from app.extensions import MAX_EXPANDED_FIELDS, validation_rules
from app.schema import build_schema


def doubling_document(levels: int) -> str:
    """Fragments that each spread the next one twice: 2^levels fields in ~40 bytes a level."""
    fragments = "\n".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"query {{ ...F0 }}\n{fragments}\nfragment F{levels} on Query {{ __typename }}"


def test_fields_inline_fragments_and_spreads_are_counted() -> None:
    document = parse(
        "query { a { b c } ...F ... on Query { d } } fragment F on Query { e { f } }"
    )
    # a, b, c, d, e, f
    assert expanded_size(document, 1000) == 6


def test_cycles_and_unknown_fragments_count_nothing() -> None:
    document = parse("query { ...A ...Missing } fragment A on Query { x ...B } fragment B on Query { y ...A }")
    assert expanded_size(document, 1000) == 2


def test_the_largest_operation_counts() -> None:
    assert expanded_size(parse("query One { a } query Two { a b c }"), 1000) == 3


def test_sizes_are_capped_not_summed_to_the_end() -> None:
    assert expanded_size(parse(doubling_document(60)), 1000) == 1001


def test_the_doubling_document_is_refused_while_other_queries_are_answered() -> None:
    schema = build_schema()
    answered = []

    def normal() -> None:
        answered.append(schema.execute_sync("{ __typename }").data)

    other = threading.Thread(target=normal)
    result = schema.execute_sync(doubling_document(30))  # 1.2 KB, 2^30 fields expanded
    other.start()
    other.join(10)
    assert [error.extensions["code"] for error in result.errors] == ["GRAPHQL_VALIDATION_FAILED"]
    assert f"more than {MAX_EXPANDED_FIELDS} fields" in result.errors[0].message
    assert answered == [{"__typename": "Query"}]


def test_a_document_within_the_size_still_meets_the_depth_limit() -> None:
    hop = "simCards { edges { node { organization { %s } } } }"
    deep = "{ organizations { edges { node { %s } } } }" % (hop % (hop % (hop % "id")))
    result = build_schema().execute_sync(deep)
    assert result.errors and "exceeds maximum operation depth" in result.errors[0].message


# A random DAG of fragments: fragment i spreads only fragments after it, and holds some fields.
dags = st.integers(1, 8).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.integers(0, 3), min_size=n, max_size=n),
    st.lists(st.lists(st.integers(0, 7), max_size=3), min_size=n, max_size=n),
))


@settings(max_examples=200, deadline=None)
@given(dags)
def test_expanded_size_is_the_size_of_the_document_written_out(dag) -> None:
    count, fields, spreads = dag
    targets = [[j for j in spread if i < j < count] for i, spread in enumerate(spreads)]
    definitions = [
        f"fragment F{i} on Query {{ {' '.join(['x'] * fields[i] + [f'...F{j}' for j in targets[i]]) or '__typename'} }}"
        for i in range(count)
    ]
    document = parse("query { ...F0 }\n" + "\n".join(definitions))

    def written_out(i: int) -> int:  # the naive, exponential definition
        own = fields[i] or (0 if targets[i] else 1)
        return own + sum(written_out(j) for j in targets[i])

    assert expanded_size(document, 10**9) == written_out(0)


def calls_to_validate(text: str) -> int:
    """Python function calls made while validating text with the API's rules: a count of the
    rules' work that does not depend on the machine's speed."""
    document = parse(text)
    calls = 0

    def count(frame, event, argument) -> None:
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        validate(GRAPHQL_SCHEMA, document, RULES)
    finally:
        sys.setprofile(None)
    return calls


GRAPHQL_SCHEMA = build_graphql_schema(build_schema().as_str())
RULES = validation_rules(12, 30)


def test_validation_work_grows_linearly_past_the_expanded_size_limit() -> None:
    calls_to_validate(doubling_document(14))  # the schema's one-time lookups are not the rules' work
    work = [calls_to_validate(doubling_document(levels)) for levels in (14, 20, 26, 32)]
    steps = [later - earlier for earlier, later in zip(work, work[1:])]
    # 6 more levels multiply the expanded size by 64; the work grows by a near-constant step.
    assert max(steps) < 2 * min(steps) and max(steps) < work[0], work


@settings(max_examples=60, deadline=None)
@given(dags, st.integers(0, 3))
def test_random_documents_are_validated_in_work_linear_in_their_size(dag, aliases: int) -> None:
    count, fields, spreads = dag
    targets = [[j for j in spread if i < j < count] for i, spread in enumerate(spreads)]
    definitions = [
        "fragment F%d on Query { %s }" % (i, " ".join(
            [f"a{i}_{k}: __typename" for k in range(min(fields[i], aliases))]
            + ["__typename"] * (fields[i] - min(fields[i], aliases))
            + [f"...F{j}" for j in targets[i]]) or "__typename")
        for i in range(count)
    ]
    text = "query { ...F0 organizations(first: 1) { totalCount } }\n" + "\n".join(definitions)
    size = len(list(re.finditer(r"[A-Za-z_0-9]+|\.\.\.|[{}():]", text)))  # its tokens
    expanded = min(expanded_size(parse(text), MAX_EXPANDED_FIELDS), MAX_EXPANDED_FIELDS + 1)
    assert calls_to_validate(text) <= 400 * (size + expanded)
