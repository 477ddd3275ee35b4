"""The expanded size of a GraphQL document: fields counted as if every fragment spread were
written out, each fragment measured once.

Fragments that each spread the next one twice double the expanded size per level in a few
bytes; rules that walk spreads (strawberry's depth and alias limits) then do exponential work.
Measured here in time linear in the document, before those rules run.
"""

from __future__ import annotations

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
)
from graphql.language.visitor import EnterLeaveVisitor

_MEASURED = "_simusage_expanded_size"
_NOTHING = EnterLeaveVisitor(None, None)


def expanded_size(document: DocumentNode, cap: int) -> int:
    """The fields of the document's largest operation with fragments expanded, or more than cap."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}
    visiting: set[str] = set()

    def size_of(selection_set: SelectionSetNode | None) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += 1 + size_of(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += size_of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_size(selection.name.value)
            if total > cap:  # no need to add up 2^30
                return cap + 1
        return total

    def fragment_size(name: str) -> int:
        if name in sizes:
            return sizes[name]
        fragment = fragments.get(name)
        if fragment is None or name in visiting:  # unknown or a cycle: other rules say so
            return 0
        visiting.add(name)
        sizes[name] = size_of(fragment.selection_set)
        visiting.discard(name)
        return sizes[name]

    try:
        return max(
            (size_of(definition.selection_set) for definition in document.definitions
             if isinstance(definition, OperationDefinitionNode)),
            default=0,
        )
    except RecursionError:
        return cap + 1


def guarded(rule: type[ASTValidationRule], max_fields: int) -> type[ASTValidationRule]:
    """The rule, run only on documents whose expanded size is within max_fields; on others it
    does nothing, and the first guarded rule reports the size."""

    class Guarded(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            size = getattr(context, _MEASURED, None)
            first = size is None
            if first:
                size = expanded_size(document, max_fields)
                setattr(context, _MEASURED, size)
            self._inner = rule(context) if size <= max_fields else None
            if self._inner is None and first:
                context.report_error(GraphQLError(
                    f"the query expands to more than {max_fields} fields once its fragments are"
                    " spread: ask for less, or spread fewer fragments"
                ))

        def get_enter_leave_for_kind(self, kind: str) -> EnterLeaveVisitor:
            """The inner rule's handlers, or none when it did not run."""
            if self._inner is None:
                return _NOTHING
            return self._inner.get_enter_leave_for_kind(kind)

    Guarded.__name__ = f"Guarded{rule.__name__}"
    return Guarded
