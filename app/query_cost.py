"""A request's cost, estimated before it runs: what its connections' page sizes may return.

As GitHub's GraphQL API does: each connection costs one statement per parent it is asked under,
and its edges as many nodes as its page size (`first` or `last`, default DEFAULT_PAGE_SIZE), so
the products of the page sizes down each path add up. Depth and alias limits do not bound
breadth: `organizations(first: 1000) { simCards(first: 1000) { usage(first: 1000) ... } }` is
shallow and asks for 10^9 buckets. Each fragment is measured once: the cost of a spread is its
fragment's cost times the multiplier where it is spread, so the estimate is linear in the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    BREAK,
    ArgumentNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    Visitor,
    build_schema,
    get_named_type,
    visit,
)
from strawberry.types import ExecutionContext

from app.errors import QueryTooCostlyError
from app.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

CONNECTION_SUFFIX = "Connection"
# A connection's per-node fields: what is under them is asked once per node of the page.
PER_NODE_FIELDS = frozenset({"edges", "nodes"})


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return min(value, MAX_PAGE_SIZE)  # a larger page is refused by its resolver, saying so
    return None


def _page_size(field: FieldNode, definition: GraphQLField, variables: Mapping[str, Any],
               defaults: Mapping[str, Any]) -> int:
    arguments = [argument for argument in field.arguments or ()
                 if argument.name.value in ("first", "last")]
    if not arguments:  # the schema's default, where its SDL declares one (`first: Int = 100`)
        first = definition.args.get("first")
        default = first.ast_node.default_value if first is not None and first.ast_node else None
        size = _count(int(default.value)) if isinstance(default, IntValueNode) else None
        return DEFAULT_PAGE_SIZE if size is None else size
    for argument in arguments:
        value: Any = None
        if isinstance(argument.value, IntValueNode):
            value = int(argument.value.value)
        elif isinstance(argument.value, VariableNode):
            name = argument.value.name.value
            value = variables.get(name, defaults.get(name))
        size = _count(value)
        if size is not None:
            return size
    return DEFAULT_PAGE_SIZE


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs: the one named, or the document's only one."""
    operations = [definition for definition in document.definitions
                  if isinstance(definition, OperationDefinitionNode)]
    if name is not None:
        return next((operation for operation in operations
                     if operation.name and operation.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def estimated_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
                   variables: Mapping[str, Any] | None) -> int:
    """Statements and nodes the operation may cost at most; 0 when it names no query."""
    operation = operation_of(document, operation_name)
    if operation is None or operation.operation != OperationType.QUERY:
        return 0
    variables = variables or {}
    defaults = {definition.variable.name.value: int(definition.default_value.value)
                for definition in operation.variable_definitions or ()
                if isinstance(definition.default_value, IntValueNode)}
    fragments = {definition.name.value: definition for definition in document.definitions
                 if isinstance(definition, FragmentDefinitionNode)}
    fragment_costs: dict[tuple[str, int | None], int] = {}

    def cost(selection_set: SelectionSetNode | None, parent: Any, page: int | None) -> int:
        """The cost of a selection on parent; page: parent is a connection of that page size."""
        if selection_set is None or not isinstance(parent, GraphQLObjectType):
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += field_cost(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = schema.get_type(condition.name.value) if condition else parent
                total += cost(selection.selection_set, inner, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_cost(selection.name.value, page)
        return total

    def field_cost(field: FieldNode, parent: GraphQLObjectType, page: int | None) -> int:
        definition = parent.fields.get(field.name.value)
        if definition is None:
            return 0  # __typename, introspection, or an unknown field that validation refused
        inner = get_named_type(definition.type)
        if inner.name.endswith(CONNECTION_SUFFIX):  # one statement, and its page's nodes
            page = _page_size(field, definition, variables, defaults)
            return 1 + cost(field.selection_set, inner, page)
        if page is not None and field.name.value in PER_NODE_FIELDS:
            return page * (1 + cost(field.selection_set, inner, None))
        return cost(field.selection_set, inner, None)

    def fragment_cost(name: str, page: int | None) -> int:
        key = (name, page)
        if key not in fragment_costs:
            fragment_costs[key] = 0  # a cycle (refused by validation) costs nothing more
            fragment = fragments.get(name)
            if fragment is not None:
                condition = schema.get_type(fragment.type_condition.name.value)
                fragment_costs[key] = cost(fragment.selection_set, condition, page)
        return fragment_costs[key]

    return cost(operation.selection_set, schema.query_type, None)


class CostModel:
    """The schema the estimates walk: graphql-core's, built from the SDL once the schema is."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost
        self.schema: GraphQLSchema | None = None

    def bind(self, sdl: str) -> None:
        """Walk the types of this SDL (the schema's own)."""
        self.schema = build_schema(sdl)


def refusal_of(model: CostModel, estimate: int) -> ExecutionResult | None:
    """The refusal of an operation of this estimated cost, if it is over the budget."""
    if estimate > model.max_cost:
        return ExecutionResult(None, [QueryTooCostlyError(estimate, model.max_cost)])
    return None


def cost_refusal(model: CostModel, context: ExecutionContext) -> ExecutionResult | None:
    """The refusal of an operation whose estimated cost is over the budget, else None."""
    if context.graphql_document is None or model.schema is None:
        return None
    return refusal_of(model, estimated_cost(model.schema, context.graphql_document,
                                            context.operation_name, context.variables))


class _PageVariables(Visitor):
    """Finds a page size given by a variable."""

    found = False

    def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
        if node.name.value in ("first", "last") and isinstance(node.value, VariableNode):
            self.found = True
            return BREAK
        return None


def fixed_cost(model: CostModel, document: DocumentNode, operation_name: str | None) -> int | None:
    """The operation's estimate whatever its variables: None when a page size is a variable."""
    if model.schema is None:
        return 0
    finder = _PageVariables()
    visit(document, finder)
    return None if finder.found else estimated_cost(model.schema, document, operation_name, None)
