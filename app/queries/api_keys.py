"""The SQL of API keys: create, list and revoke (the CLI), and the per-request lookup (the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

# Only the digest is written: the key itself is shown once by `simusage apikey create`.
INSERT_KEY = """
    INSERT INTO api_key (id, name, organization_id, admin, secret_digest)
    VALUES (%s, %s, %s, %s, %s)
"""

LIST_KEYS = """
    SELECT id, name, organization_id, admin, created_at, revoked_at
    FROM api_key
    ORDER BY created_at, id
"""

# coalesce keeps the first revocation time. now() is the transaction's start, so the second
# column is true only when this very statement revoked the key. No row: no such key.
REVOKE_KEY = """
    UPDATE api_key SET revoked_at = coalesce(revoked_at, now())
    WHERE id = %s
    RETURNING revoked_at, revoked_at = now()
"""

ORGANIZATION_IN_INVENTORY = "SELECT EXISTS (SELECT 1 FROM inventory WHERE organization_id = %s)"

# The one statement an authenticated request costs (a primary-key lookup), and none at all
# while the key is in the authenticator's cache.
FIND_KEY = """
    SELECT secret_digest, organization_id, admin, revoked_at IS NOT NULL
    FROM api_key
    WHERE id = %s
"""


@dataclass(frozen=True)
class ApiKey:
    """A key as `simusage apikey list` shows it: everything but its secret."""

    id: str
    name: str
    organization_id: str | None
    admin: bool
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class StoredKey:
    """What verifying a presented key needs from its row."""

    secret_digest: bytes
    organization_id: str | None
    admin: bool
    revoked: bool


def insert_key(
    connection: psycopg.Connection,
    key_id: str,
    name: str,
    organization_id: str | None,
    secret_digest: bytes,
) -> None:
    """Store a new key (admin when organization_id is None) in the caller's transaction."""
    connection.execute(
        INSERT_KEY, (key_id, name, organization_id, organization_id is None, secret_digest)
    )


def list_keys(connection: psycopg.Connection) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return [ApiKey(*row) for row in connection.execute(LIST_KEYS)]


def revoke_key(connection: psycopg.Connection, key_id: str) -> tuple[datetime, bool] | None:
    """Revoke a key: (revocation time, whether this call revoked it), or None if unknown."""
    row = connection.execute(REVOKE_KEY, (key_id,)).fetchone()
    return (row[0], row[1]) if row else None


def organization_in_inventory(connection: psycopg.Connection, organization_id: str) -> bool:
    """Whether the inventory has at least one SIM card of the organization."""
    return connection.execute(ORGANIZATION_IN_INVENTORY, (organization_id,)).fetchone()[0]


async def find_key(connection: psycopg.AsyncConnection, key_id: str) -> StoredKey | None:
    """The stored key of public id key_id, or None."""
    cursor = await connection.execute(FIND_KEY, (key_id,))
    row = await cursor.fetchone()
    if row is None:
        return None
    return StoredKey(bytes(row[0]), row[1], row[2], row[3])
