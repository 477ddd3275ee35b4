"""`simusage apikey`: create, list and revoke the API's keys."""

from __future__ import annotations

import argparse
import re
import sys

import psycopg

from app.authentication import generate_key, key_digest
from app.queries import api_keys
from simusage.settings import Settings

KEY_ID = re.compile(r"[0-9a-f]{16}")


def _create(arguments: argparse.Namespace, connection: psycopg.Connection) -> int:
    organization_id = None if arguments.admin else arguments.org.strip()
    if organization_id == "":
        print("simusage apikey create: --org must not be empty", file=sys.stderr)
        return 2
    key_id, key = generate_key()
    api_keys.insert_key(connection, key_id, arguments.name, organization_id, key_digest(key))
    connection.commit()
    scope = f"organization {organization_id}" if organization_id else "admin (every organization)"
    # The key alone on stdout, so that KEY=$(simusage apikey create ...) works; the rest on
    # stderr. Only its digest is stored: this is the one time it can be seen.
    print(key)
    print(f"created API key {key_id} for {scope}; store it now, it cannot be shown again",
          file=sys.stderr)
    known = organization_id is None or api_keys.organization_in_inventory(connection, organization_id)
    if not known:
        print(f"note: organization {organization_id} has no SIM card in the inventory yet",
              file=sys.stderr)
    return 0


def _list(arguments: argparse.Namespace, connection: psycopg.Connection) -> int:
    keys = api_keys.list_keys(connection)
    if not keys:
        print("no API keys (create one with: simusage apikey create --org ORG)")
        return 0
    rows = [("ID", "SCOPE", "NAME", "CREATED", "REVOKED")]
    for key in keys:
        rows.append((
            key.id,
            "admin" if key.admin else f"org {key.organization_id}",
            key.name or "-",
            f"{key.created_at:%Y-%m-%d %H:%M:%S%z}",
            f"{key.revoked_at:%Y-%m-%d %H:%M:%S%z}" if key.revoked_at else "-",
        ))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _revoke(arguments: argparse.Namespace, connection: psycopg.Connection) -> int:
    if not KEY_ID.fullmatch(arguments.id):
        print("simusage apikey revoke: expected a key id (16 hex digits, see apikey list)",
              file=sys.stderr)
        return 2
    revoked = api_keys.revoke_key(connection, arguments.id)
    connection.commit()
    if revoked is None:
        print(f"simusage apikey revoke: no API key {arguments.id}", file=sys.stderr)
        return 1
    revoked_at, now = revoked
    print(f"revoked API key {arguments.id}" if now
          else f"API key {arguments.id} was already revoked at {revoked_at:%Y-%m-%d %H:%M:%S%z}")
    return 0


ACTIONS = {"create": _create, "list": _list, "revoke": _revoke}


def run(arguments: argparse.Namespace, settings: Settings) -> int:
    """Run one `simusage apikey` action against the database of the settings."""
    try:
        with psycopg.connect(settings.database_url) as connection:
            return ACTIONS[arguments.apikey_command](arguments, connection)
    except psycopg.errors.UndefinedTable:
        print("simusage apikey: no api_key table; run `simusage migrate` first", file=sys.stderr)
        return 1
    except psycopg.OperationalError:
        raise  # unreachable: the command line says so in one line (simusage/failures.py)
    except psycopg.Error as error:
        print(f"simusage apikey: database error: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        return 1
