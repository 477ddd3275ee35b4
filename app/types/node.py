"""Relay's object identification: a Node interface whose global id has a field of its own.

The contract's ids stay as they are (`organization(id: "f00ff")`, `simCard(id: "89440001")`),
and an organization id may be all digits, like a card's: the two can collide, so they cannot be
Relay's global ids. `nodeId` is: the type's name and the id, base64url-encoded, as PostGraphile
does; Relay reads it with `nodeInterfaceIdField: "nodeId"` in its compiler configuration.
"""

from __future__ import annotations

import base64
import binascii
import re

import strawberry

from app.errors import UserInputError

NODE_TYPES = ("Organization", "SimCard")
_NODE_ID_TEXT = re.compile(r"[A-Za-z0-9_-]{1,400}")


def encode_node_id(type_name: str, key: str) -> str:
    """The global id of an object of type_name whose contract id is key."""
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode("ascii").rstrip("=")


def decode_node_id(node_id: str) -> tuple[str, str]:
    """(type name, contract id) of a global id; one this API did not make is the client's error."""
    refusal = UserInputError(f"invalid nodeId {node_id[:40]!r}: use a nodeId this API returned")
    if not _NODE_ID_TEXT.fullmatch(node_id):
        raise refusal
    try:
        text = base64.urlsafe_b64decode(node_id + "=" * (-len(node_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refusal from None
    type_name, separator, key = text.partition(":")
    if not separator or type_name not in NODE_TYPES or not key:
        raise refusal
    return type_name, key


@strawberry.interface(
    description="An object that can be fetched again by its global id alone (Relay's object\n"
    "identification): `node(id:)` takes the object's `nodeId`."
)
class Node:
    """Organization and SimCard."""

    @strawberry.field(
        description="The object's global id, unique across types (its `id` is unique only among "
        "objects of its type); for `node(id:)`."
    )
    def node_id(self) -> strawberry.ID:
        return strawberry.ID(encode_node_id(type(self).__name__, self.id))  # type: ignore[attr-defined]
