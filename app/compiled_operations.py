"""Prepared operations compiled into plans of their fields, run without graphql-core's executor.

For a document that validated, graphql-core still collects every selection set, builds each
field's resolve info, coerces its literal arguments and walks the completion of every value on
every request: with strawberry's wrappers that was about a quarter of query (b)'s CPU for three
resolvers (py-spy). A plan does that work once per document: fields collected, literal arguments
coerced, each value's completion chosen. A request then only calls the resolvers, gathered per
object as graphql-core gathers them (so DataLoaders batch alike), and serializes the leaves.

It answers only the happy path. Documents with directives, abstract types, introspection or
nested lists are not compiled; a run that meets anything else (an exception, a null where the
schema says non-null, a value a scalar refuses) raises Fallback once every resolver it started
has settled, and the operation runs again through graphql-core in a fresh request state, which
gives the errors and partial data the spec asks for. Queries read and never write, so running
one again changes nothing. tests/app/test_prepared_operations.py compares the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    BREAK,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    Visitor,
    get_argument_values,
    get_variable_values,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    visit,
)
from graphql.execution.values import VariableValues

from app.compiled_runs import Fallback, Run, plain_completion
from app.direct_resolvers import DirectResolver, direct_resolver
from app.plain_lists import basic_field_reader

NO_VARIABLES = VariableValues({}, {})


class _Finder(Visitor):
    """Finds what plans do not cover: directives and variables."""

    def __init__(self, kind: type) -> None:
        super().__init__()
        self.kind, self.found = kind, False

    def enter(self, node: Any, *_: Any) -> Any:
        if isinstance(node, self.kind):
            self.found = True
            return BREAK
        return None


def contains(node: Any, kind: type) -> bool:
    """Whether a node of this kind is anywhere within node."""
    finder = _Finder(kind)
    visit(node, finder)
    return finder.found


class FieldPlan:
    """One response key of an object: how its value is read or resolved, then completed."""

    __slots__ = ("key", "definition", "nodes", "read", "resolve", "direct", "arguments",
                 "non_null", "is_list", "item_non_null", "leaf", "object_plan")

    def __init__(self, key: str, definition: GraphQLField, nodes: list[FieldNode]) -> None:
        self.key, self.definition, self.nodes = key, definition, nodes
        self.read: Callable[[Any], Any] | None = None  # a basic attribute: no resolver call
        self.resolve: Callable[..., Any] | None = None
        self.direct: DirectResolver | None = None  # the resolver past strawberry's wrapper
        self.arguments: dict[str, Any] | None = None  # None: they name variables
        self.non_null = self.is_list = self.item_non_null = False
        self.leaf: Callable[[Any], Any] | None = None
        self.object_plan: ObjectPlan | None = None


class ObjectPlan:
    """The fields of one selection on one object type; plain if none calls a resolver."""

    __slots__ = ("type", "type_name", "is_type_of", "fields", "plain", "complete")

    def __init__(self, object_type: GraphQLObjectType, fields: list[FieldPlan | str]) -> None:
        self.type, self.type_name, self.fields = object_type, object_type.name, fields
        self.is_type_of = object_type.is_type_of
        self.plain = all(isinstance(field, str) or (
            field.read is not None and (field.object_plan is None or field.object_plan.plain))
            for field in fields)
        self.complete = plain_completion(self) if self.plain else None


class Compiler:
    """Plans of one document's selections."""

    def __init__(self, strawberry_schema: Any, document: DocumentNode) -> None:
        self.strawberry_schema = strawberry_schema
        self.schema: GraphQLSchema = strawberry_schema._schema
        self.fragments = {definition.name.value: definition for definition in document.definitions
                          if isinstance(definition, FragmentDefinitionNode)}

    def collect(self, object_type: GraphQLObjectType, selection_sets: list[SelectionSetNode],
                fields: dict[str, list[FieldNode]]) -> None:
        """Fields by response key, in order, through the fragments that apply to the type."""
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                    continue
                if isinstance(selection, FragmentSpreadNode):
                    fragment = self.fragments[selection.name.value]
                    condition, inner = fragment.type_condition, fragment.selection_set
                else:
                    condition, inner = selection.type_condition, selection.selection_set
                if condition is not None and condition.name.value != object_type.name:
                    if not is_object_type(self.schema.get_type(condition.name.value)):
                        raise Fallback  # an interface or union condition: not planned
                    continue  # another object type's fields: never this one's
                self.collect(object_type, [inner], fields)

    def object_plan(self, object_type: GraphQLObjectType,
                    selection_sets: list[SelectionSetNode]) -> ObjectPlan:
        """The plan of these selections on object_type; Fallback where none is made."""
        grouped: dict[str, list[FieldNode]] = {}
        self.collect(object_type, selection_sets, grouped)
        fields: list[FieldPlan | str] = []
        for key, nodes in grouped.items():
            name = nodes[0].name.value
            if name == "__typename":
                fields.append(key)
                continue
            definition = object_type.fields.get(name)
            if definition is None or name.startswith("__"):
                raise Fallback  # introspection
            fields.append(self.field_plan(key, definition, nodes))
        return ObjectPlan(object_type, fields)

    def field_plan(self, key: str, definition: GraphQLField, nodes: list[FieldNode]) -> FieldPlan:
        """How one response key is read or resolved and completed."""
        plan = FieldPlan(key, definition, nodes)
        plan.read = basic_field_reader(definition)
        if plan.read is None:
            plan.resolve = definition.resolve
            if plan.resolve is None:
                raise Fallback
            if not contains(nodes[0], VariableNode):
                plan.arguments = get_argument_values(definition, nodes[0], NO_VARIABLES)
            plan.direct = direct_resolver(definition, self.strawberry_schema, plan.arguments)
        field_type = definition.type
        plan.non_null = is_non_null_type(field_type)
        field_type = field_type.of_type if plan.non_null else field_type
        if is_list_type(field_type):
            plan.is_list = True
            field_type = field_type.of_type
            plan.item_non_null = is_non_null_type(field_type)
            field_type = field_type.of_type if plan.item_non_null else field_type
        if is_leaf_type(field_type):
            plan.leaf = field_type.coerce_output_value
        elif is_object_type(field_type):
            plan.object_plan = self.object_plan(
                field_type, [node.selection_set for node in nodes if node.selection_set])
        else:
            raise Fallback  # interfaces, unions, lists of lists
        return plan


def compile_operation(strawberry_schema: Any, document: DocumentNode,
                      operation: OperationDefinitionNode) -> CompiledOperation | None:
    """The plan of a validated query operation, or None where graphql-core runs it."""
    if contains(document, DirectiveNode):
        return None
    compiler = Compiler(strawberry_schema, document)
    schema = compiler.schema
    try:
        root = compiler.object_plan(schema.query_type, [operation.selection_set])
    except Exception:  # noqa: BLE001 - Fallback, or a literal the scalar refuses: graphql-core
        return None    # reports it
    return CompiledOperation(schema, operation, compiler.fragments, root)


class CompiledOperation:
    """A compiled query operation: run(context, variables) is its data, or raises Fallback."""

    def __init__(self, schema: GraphQLSchema, operation: OperationDefinitionNode,
                 fragments: dict[str, FragmentDefinitionNode], root: ObjectPlan) -> None:
        self.schema, self.operation, self.fragments, self.root = schema, operation, fragments, root

    async def run(self, context: Any, variables: dict[str, Any] | None) -> dict[str, Any]:
        """The operation's data; Fallback if graphql-core must answer (once all settled)."""
        definitions = self.operation.variable_definitions
        coerced = get_variable_values(self.schema, definitions, variables or {}) \
            if definitions else NO_VARIABLES
        if isinstance(coerced, list):
            raise Fallback  # variables that do not coerce: graphql-core's errors
        try:
            return await Run(self, context, coerced).object(self.root, None, None)
        except Fallback:
            raise
        except Exception as error:  # noqa: BLE001 - whatever it was, graphql-core reports it
            raise Fallback from error
