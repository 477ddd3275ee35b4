"""The `simusage` command: one entry point, a subcommand per process or chore."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simusage.logs import configure_logging
from simusage.failures import describe_failure
from simusage.settings import Settings, SettingsError, get_settings


def _migrate(arguments: argparse.Namespace, settings: Settings) -> int:
    from simusage import migration

    if arguments.downgrade:
        migration.downgrade(settings, arguments.revision or "base")
        return 0
    migration.upgrade(settings, arguments.revision or "head")
    import psycopg

    from ingest.writer import storage_mode

    from migrations.lifecycle import apply_lifecycle

    with psycopg.connect(settings.database_url) as connection:
        mode = storage_mode(connection)
        if mode == "timescaledb" and not arguments.revision:
            # The settings of the stored data's lifecycle, applied again: a changed value holds.
            apply_lifecycle(connection.cursor(), settings)
            print(f"simusage migrate: raw chunks compressed after {settings.compress_after}, "
                  f"raw rows kept {_kept(settings.raw_retention)}, aggregates kept "
                  f"{_kept(settings.aggregate_retention)}")
        elif mode == "postgres":
            # The workers drop day partitions past SIMUSAGE_RAW_RETENTION themselves.
            print(f"simusage migrate: raw rows kept {_kept(settings.raw_retention)} (by the "
                  "workers), rollups kept forever")
        print(f"simusage migrate: storage mode {mode}")
    return 0


def _kept(retention: str) -> str:
    return "forever" if retention == "keep" else f"for {retention}"


def _inventory_import(arguments: argparse.Namespace, settings: Settings) -> int:
    from ingest.inventory import import_inventory_file

    return _inventory_change(arguments, settings, arguments.file, lambda: import_inventory_file(
        settings, Path(arguments.file), arguments.effective))


def _inventory_move(arguments: argparse.Namespace, settings: Settings) -> int:
    from ingest.inventory import move_card

    return _inventory_change(arguments, settings, f"SIM card {arguments.card}", lambda: move_card(
        settings, arguments.card, arguments.organization, arguments.effective))


def _inventory_change(arguments: argparse.Namespace, settings: Settings, source: str, change) -> int:
    from ingest.inventory import InventoryError

    try:
        done = change()
    except InventoryError as error:
        print(f"simusage inventory {arguments.inventory_command}: {error}", file=sys.stderr)
        return 2
    print(f"{source}: {done.changed} of {done.cards} SIM card(s) given a new owner")
    return _inventory_reattribute(arguments, settings)


def _inventory_reattribute(arguments: argparse.Namespace, settings: Settings) -> int:
    from ingest.reattribution import run_reattribution

    return run_reattribution(settings)


def _inventory_show(arguments: argparse.Namespace, settings: Settings) -> int:
    from ingest.inventory import InventoryError, card_periods, describe_period

    try:
        periods = card_periods(settings, arguments.card)
    except InventoryError as error:
        print(f"simusage inventory show: {error}", file=sys.stderr)
        return 2
    if not periods:
        print(f"SIM card {arguments.card} has no owner in the inventory")
        return 1
    for period in reversed(periods):
        print(describe_period(period))
    return 0


def _ingest(arguments: argparse.Namespace, settings: Settings) -> int:
    from ingest.worker import run_worker

    return run_worker(settings)


def _serve(arguments: argparse.Namespace, settings: Settings) -> int:
    from app.server import run_server

    return run_server(settings)


def _produce(arguments: argparse.Namespace, settings: Settings) -> int:
    from ingest.producer import run_producer

    return run_producer(settings, arguments)


def _apikey(arguments: argparse.Namespace, settings: Settings) -> int:
    from simusage.apikeys import run

    return run(arguments, settings)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="simusage",
        description="Mobile-data usage analytics: Kafka topic -> usage tables -> GraphQL API. "
        "Settings come from the environment and .env (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, "
        "SIMUSAGE_*); see the README.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate = commands.add_parser(
        "migrate", help="create or upgrade the database schema (Alembic upgrade head)",
        description="Apply the Alembic migrations. The first one picks the storage mode "
        "(SIMUSAGE_STORAGE_MODE: auto, timescaledb or postgres).",
    )
    migrate.add_argument("--revision", help="target revision (default: head, or base with --downgrade)")
    migrate.add_argument("--downgrade", action="store_true", help="migrate down instead of up")
    migrate.set_defaults(handler=_migrate)

    inventory = commands.add_parser("inventory", help="manage the SIM card inventory")
    inventory_commands = inventory.add_subparsers(dest="inventory_command", required=True, metavar="ACTION")
    inventory_import = inventory_commands.add_parser(
        "import", help="give SIM cards to organizations from a JSON file",
        description='Load a JSON list of {"sim-card-id": "...", "org-id": "..."} objects. Each '
        "pair holds from --effective (default: now); a card new to the inventory without "
        "--effective owns its whole past. Usage already stored is then attributed again. All "
        "or nothing: a bad file changes nothing.",
    )
    inventory_import.add_argument("file", help="path of the inventory JSON file")
    effective_help = "ISO 8601 time with offset from which the owners hold, e.g. 2024-03-01T00:00:00Z"
    inventory_import.add_argument("--effective", metavar="TIME", help=effective_help)
    inventory_import.set_defaults(handler=_inventory_import)
    inventory_move = inventory_commands.add_parser(
        "move", help="give one SIM card to an organization from a time on",
        description="Close the card's current period at TIME and open one with ORG; usage "
        "stored from TIME on is attributed again.",
    )
    inventory_move.add_argument("card", help="the SIM card id")
    inventory_move.add_argument("organization", metavar="org", help="the new owner")
    inventory_move.add_argument("--effective", metavar="TIME", required=True, help=effective_help)
    inventory_move.set_defaults(handler=_inventory_move)
    inventory_show = inventory_commands.add_parser("show", help="print a SIM card's owners over time")
    inventory_show.add_argument("card", help="the SIM card id")
    inventory_show.set_defaults(handler=_inventory_show)
    inventory_reattribute = inventory_commands.add_parser(
        "reattribute", help="finish re-attributions left by an interrupted import or move",
    )
    inventory_reattribute.set_defaults(handler=_inventory_reattribute)

    ingest = commands.add_parser(
        "ingest", help="run the Kafka ingest worker",
        description="Consume the usage topic into the database, exactly once. Start several "
        "side by side to share the topic's partitions.",
    )
    ingest.set_defaults(handler=_ingest)

    serve = commands.add_parser(
        "serve", help="run the GraphQL API",
        description="Serve GraphQL (and GraphiQL) at /graphql, with /healthz, /readyz, /metrics.",
    )
    serve.set_defaults(handler=_serve)

    produce = commands.add_parser(
        "produce", help="send demo usage events to the topic",
        description="Send the reference producer's 40,320 events (--reference) or a synthetic load.",
    )
    source = produce.add_mutually_exclusive_group(required=True)
    source.add_argument("--reference", action="store_true", help="the reference run: 28 days x 1,440 minutes, 15 cards")
    source.add_argument("--sims", type=int, metavar="N", help="synthetic load over N SIM cards")
    produce.add_argument("--days", type=int, default=1, metavar="D", help="days of synthetic data (default 1)")
    produce.add_argument("--per-minute", type=int, default=1, metavar="K", help="events per card per minute (default 1)")
    produce.add_argument("--seed", type=int, default=2020, help="random seed (default 2020)")
    produce.add_argument("--quiet", action="store_true", help="no progress bar")
    produce.set_defaults(handler=_produce)

    apikey = commands.add_parser(
        "apikey", help="create, list and revoke API keys",
        description="Keys for the GraphQL API (Authorization: Bearer <key>). Only a digest is "
        "stored: a new key is printed once.",
    )
    apikey_commands = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    apikey_create = apikey_commands.add_parser("create", help="create a key and print it, once")
    apikey_scope = apikey_create.add_mutually_exclusive_group(required=True)
    apikey_scope.add_argument("--org", metavar="ORG", help="the one organization the key may see")
    apikey_scope.add_argument("--admin", action="store_true", help="the key sees every organization")
    apikey_create.add_argument("--name", default="", help="a note on who holds the key")
    apikey_commands.add_parser("list", help="list keys (never their secrets)")
    apikey_revoke = apikey_commands.add_parser(
        "revoke", help="revoke a key (the API refuses it within seconds)"
    )
    apikey_revoke.add_argument("id", help="the key id shown by apikey list")
    apikey.set_defaults(handler=_apikey)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the simusage command line."""
    arguments = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"simusage: {error}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        return arguments.handler(arguments, settings)
    except Exception as error:
        line = describe_failure(error, settings)
        if line is None or settings.log_level == "DEBUG":
            raise  # a fault, or asked for: the whole traceback
        print(f"simusage {arguments.command}: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
