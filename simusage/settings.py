"""The one settings object of a simusage process, read from the environment and `.env`."""

from __future__ import annotations

import functools
import re
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


# A PostgreSQL interval as an operator writes one: "7 days", "12 hours", "1 month".
INTERVAL = re.compile(r"(\d{1,6}) (hour|day|week|month|year)s?")


# Retention below this would drop raw rows that the refresh policies still read (3 months).
MIN_RETENTION_DAYS = 120
_UNIT_DAYS = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 365}


def interval_days(value: str) -> float | None:
    """The days of an interval as INTERVAL reads it (a month as 30); None if it is not one."""
    match = INTERVAL.fullmatch(value.strip().lower())
    return None if match is None else int(match[1]) * _UNIT_DAYS[match[2]]


class SettingsError(Exception):
    """A setting has a value the process cannot start with."""


class Settings(BaseSettings):
    """Every knob of simusage; each field is read from the environment variable it names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=False)

    database_url: str = Field(
        "postgresql://simusage:simusage@127.0.0.1:55432/simusage",
        validation_alias=AliasChoices("DATABASE_URL"),
    )
    # The API's reads from a streaming replica (hot standby) of DATABASE_URL; empty: the
    # primary. The worker, the change feed and the migrations always use DATABASE_URL.
    read_database_url: str = Field(
        "", validation_alias=AliasChoices("SIMUSAGE_READ_DATABASE_URL")
    )
    storage_mode: Literal["auto", "timescaledb", "postgres"] = Field(
        "auto", validation_alias=AliasChoices("SIMUSAGE_STORAGE_MODE")
    )
    statement_timeout_ms: int = Field(
        5000, ge=1, validation_alias=AliasChoices("SIMUSAGE_STATEMENT_TIMEOUT_MS")
    )

    kafka_bootstrap_servers: str = Field(
        "localhost:9092", min_length=1, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    topic: str = Field("usage", min_length=1, validation_alias=AliasChoices("SIMUSAGE_TOPIC"))
    dead_letter_topic: str = Field(
        "", validation_alias=AliasChoices("SIMUSAGE_DEAD_LETTER_TOPIC")
    )
    # The largest dead letter the worker produces, framing included: under the producer's 1 MiB
    # request limit and the broker's default message.max.bytes. Larger ones are truncated.
    dead_letter_max_bytes: int = Field(
        1_000_000, ge=16_384, le=64 * 1024 * 1024,
        validation_alias=AliasChoices("SIMUSAGE_DEAD_LETTER_MAX_BYTES"),
    )
    consumer_group: str = Field(
        "simusage-ingest", min_length=1, validation_alias=AliasChoices("SIMUSAGE_CONSUMER_GROUP")
    )
    # Measured (bench/ingest.py): 50,000 a batch writes reference-shaped events about 1.5x
    # faster than 20,000, and 100,000 another 4% faster (fewer rollup rows, round trips and
    # dead-letter flushes per event); 200,000 is slower again (the first commit comes later).
    # A batch stays well under a second's work, so rebalances and shutdowns stay prompt.
    batch_size: int = Field(
        100_000, ge=1, le=1_000_000, validation_alias=AliasChoices("SIMUSAGE_BATCH_SIZE")
    )
    # Only while there is more to read: at the end of the log a batch commits at once.
    batch_wait_ms: int = Field(
        500, ge=0, le=60_000, validation_alias=AliasChoices("SIMUSAGE_BATCH_WAIT_MS")
    )
    # The broker hands a dead worker's partitions on after this; Kafka's 45 s default is too slow.
    session_timeout_ms: int = Field(
        10000, ge=1000, validation_alias=AliasChoices("SIMUSAGE_SESSION_TIMEOUT_MS")
    )
    ingest_metrics_port: int = Field(
        9108, ge=0, le=65535, validation_alias=AliasChoices("SIMUSAGE_INGEST_METRICS_PORT")
    )
    # Liveness pings to the group coordinator; Kafka wants at most a third of the session timeout.
    heartbeat_interval_ms: int = Field(
        3000, ge=100, validation_alias=AliasChoices("SIMUSAGE_HEARTBEAT_INTERVAL_MS")
    )
    # Per partition per fetch: 8 MiB is about 70,000 usage records, so one poll fills a batch.
    kafka_max_partition_fetch_bytes: int = Field(
        8 * 1024 * 1024, ge=65536, le=256 * 1024 * 1024,
        validation_alias=AliasChoices("SIMUSAGE_KAFKA_MAX_PARTITION_FETCH_BYTES"),
    )
    # How the worker writes raw rows: binary COPY, or INSERT from arrays for servers without
    # COPY FROM STDIN; auto tries COPY once at start.
    ingest_write_method: Literal["auto", "copy", "insert"] = Field(
        "auto", validation_alias=AliasChoices("SIMUSAGE_INGEST_WRITE_METHOD")
    )
    # The worker's copy of the inventory is reloaded this often, and (at most this often) when
    # an event names a card it does not know.
    inventory_refresh_s: float = Field(
        60.0, gt=0, le=86_400, validation_alias=AliasChoices("SIMUSAGE_INVENTORY_REFRESH_S")
    )
    inventory_miss_reload_s: float = Field(
        5.0, ge=0, le=86_400, validation_alias=AliasChoices("SIMUSAGE_INVENTORY_MISS_RELOAD_S")
    )
    # TimescaleDB mode: late events are refreshed into the continuous aggregates at most this
    # often, so a backfill's ranges pile up and coalesce instead of one refresh per batch.
    late_refresh_interval_ms: int = Field(
        1000, ge=0, le=3_600_000, validation_alias=AliasChoices("SIMUSAGE_LATE_REFRESH_INTERVAL_MS")
    )

    api_host: str = Field("127.0.0.1", min_length=1, validation_alias=AliasChoices("SIMUSAGE_API_HOST"))
    api_port: int = Field(8000, ge=1, le=65535, validation_alias=AliasChoices("SIMUSAGE_API_PORT"))
    api_workers: int = Field(1, ge=1, le=64, validation_alias=AliasChoices("SIMUSAGE_API_WORKERS"))
    cors_origins: str = Field("", validation_alias=AliasChoices("SIMUSAGE_CORS_ORIGINS"))
    tls_certificate: str = Field("", validation_alias=AliasChoices("SIMUSAGE_TLS_CERTIFICATE"))
    tls_key: str = Field("", validation_alias=AliasChoices("SIMUSAGE_TLS_KEY"))
    auth: Literal["on", "off"] = Field("on", validation_alias=AliasChoices("SIMUSAGE_AUTH"))
    # Per API worker process; PostgreSQL's default max_connections is 100.
    api_pool_size: int = Field(
        10, ge=1, le=100, validation_alias=AliasChoices("SIMUSAGE_API_POOL_SIZE")
    )
    # Limits that keep one request from occupying a worker: body size, then the parser's token
    # count, query depth and aliases, then the nodes (buckets, cards, organizations) it returns.
    api_max_request_bytes: int = Field(
        65536, ge=1024, le=16 * 1024 * 1024,
        validation_alias=AliasChoices("SIMUSAGE_API_MAX_REQUEST_BYTES"),
    )
    api_max_tokens: int = Field(
        2000, ge=100, le=100_000, validation_alias=AliasChoices("SIMUSAGE_API_MAX_TOKENS")
    )
    api_max_depth: int = Field(
        12, ge=4, le=100, validation_alias=AliasChoices("SIMUSAGE_API_MAX_DEPTH")
    )
    api_max_aliases: int = Field(
        30, ge=0, le=1000, validation_alias=AliasChoices("SIMUSAGE_API_MAX_ALIASES")
    )
    api_max_nodes: int = Field(
        100_000, ge=1000, le=10_000_000, validation_alias=AliasChoices("SIMUSAGE_API_MAX_NODES")
    )
    # What one request's connections may ask for before anything runs: the products of
    # first/last down each path, summed (see app/query_cost.py). Measured about 55 us of API
    # CPU a unit: 1,200 lets one page of 1,000 buckets through (~60 ms) and little more; the
    # default admits the contract's two-level lists at their default page size (20,301).
    api_max_cost: int = Field(
        25_000, ge=100, le=10_000_000, validation_alias=AliasChoices("SIMUSAGE_API_MAX_COST")
    )
    # HTTP: a request's line and headers, their count, the time to receive them and the body,
    # and the connections one worker serves at once (503 past it).
    api_max_header_bytes: int = Field(
        32768, ge=4096, le=1024 * 1024, validation_alias=AliasChoices("SIMUSAGE_API_MAX_HEADER_BYTES")
    )
    api_max_headers: int = Field(
        100, ge=10, le=1000, validation_alias=AliasChoices("SIMUSAGE_API_MAX_HEADERS")
    )
    api_header_timeout_s: float = Field(
        10.0, gt=0, le=300, validation_alias=AliasChoices("SIMUSAGE_API_HEADER_TIMEOUT_S")
    )
    api_body_timeout_s: float = Field(
        30.0, gt=0, le=600, validation_alias=AliasChoices("SIMUSAGE_API_BODY_TIMEOUT_S")
    )
    api_max_connections: int = Field(
        1000, ge=10, le=100_000, validation_alias=AliasChoices("SIMUSAGE_API_MAX_CONNECTIONS")
    )
    # Requests a second per API key (and per client address before a key is verified), with
    # bursts of twice as many; 0 turns the limit off. Per worker process.
    api_rate_limit: float = Field(
        50.0, ge=0, le=1_000_000, validation_alias=AliasChoices("SIMUSAGE_API_RATE_LIMIT")
    )
    api_address_rate_limit: float = Field(
        20.0, ge=0, le=1_000_000, validation_alias=AliasChoices("SIMUSAGE_API_ADDRESS_RATE_LIMIT")
    )
    # Automatic persisted queries (Apollo's protocol), per worker process.
    api_persisted_queries: int = Field(
        1000, ge=0, le=1_000_000, validation_alias=AliasChoices("SIMUSAGE_API_PERSISTED_QUERIES")
    )
    api_persisted_query_bytes: int = Field(
        4 * 1024 * 1024, ge=0, le=1024 * 1024 * 1024,
        validation_alias=AliasChoices("SIMUSAGE_API_PERSISTED_QUERY_BYTES"),
    )
    # TimescaleDB mode: raw chunks older than this are compressed (columnstore) by a policy
    # that `simusage migrate` creates or updates; "never" keeps them row by row.
    compress_after: str = Field(
        "7 days", validation_alias=AliasChoices("SIMUSAGE_COMPRESS_AFTER")
    )
    # Raw chunks (TimescaleDB) or day partitions (PostgreSQL) older than this are dropped
    # ("keep": never); the aggregates keep their history, and events older than it are
    # dead-lettered as too-old.
    raw_retention: str = Field("keep", validation_alias=AliasChoices("SIMUSAGE_RAW_RETENTION"))
    # The continuous aggregates' own retention ("keep": never), at least the raw rows'.
    aggregate_retention: str = Field(
        "keep", validation_alias=AliasChoices("SIMUSAGE_AGGREGATE_RETENTION")
    )
    # Live usage: the API listens to the worker's change feed (off: no subscriptions).
    change_feed: Literal["on", "off"] = Field(
        "on", validation_alias=AliasChoices("SIMUSAGE_CHANGE_FEED")
    )
    api_max_subscriptions_per_connection: int = Field(
        20, ge=1, le=10_000,
        validation_alias=AliasChoices("SIMUSAGE_API_MAX_SUBSCRIPTIONS_PER_CONNECTION"),
    )
    api_max_subscriptions_per_key: int = Field(
        200, ge=1, le=1_000_000,
        validation_alias=AliasChoices("SIMUSAGE_API_MAX_SUBSCRIPTIONS_PER_KEY"),
    )
    # Buckets whose updates may wait for a subscription's client before it is dropped.
    api_subscription_queue: int = Field(
        10_000, ge=1, le=1_000_000, validation_alias=AliasChoices("SIMUSAGE_API_SUBSCRIPTION_QUEUE"),
    )
    # The response cache of each API process, in bytes (0: off); it needs the change feed.
    api_cache_bytes: int = Field(
        64 * 1024 * 1024, ge=0, le=64 * 1024**3,
        validation_alias=AliasChoices("SIMUSAGE_API_CACHE_BYTES"),
    )
    # Operation names that /metrics labels by name; every other is "other".
    metrics_operations: str = Field("", validation_alias=AliasChoices("SIMUSAGE_METRICS_OPERATIONS"))
    # /metrics on its own address, so that it need not be public; port 0: served at /metrics.
    metrics_host: str = Field("127.0.0.1", min_length=1, validation_alias=AliasChoices("SIMUSAGE_METRICS_HOST"))
    metrics_port: int = Field(0, ge=0, le=65535, validation_alias=AliasChoices("SIMUSAGE_METRICS_PORT"))

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=AliasChoices("SIMUSAGE_LOG_LEVEL")
    )
    log_format: Literal["text", "json"] = Field(
        "text", validation_alias=AliasChoices("SIMUSAGE_LOG_FORMAT")
    )

    @field_validator("database_url", "read_database_url")
    @classmethod
    def _postgres_url(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "read_database_url" and not value:
            return value
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("heartbeat_interval_ms")
    @classmethod
    def _heartbeat_below_session(cls, value: int, info: ValidationInfo) -> int:
        session = info.data.get("session_timeout_ms")
        if session is not None and value * 3 > session:
            raise ValueError(
                f"must be at most a third of SIMUSAGE_SESSION_TIMEOUT_MS ({session})"
            )
        return value

    @field_validator("compress_after")
    @classmethod
    def _interval(cls, value: str) -> str:
        value = value.strip().lower()
        if value == "never":
            return value
        match = INTERVAL.fullmatch(value)
        if match is None or not 1 <= int(match[1]) <= 100_000:
            raise ValueError(
                "must be a whole number of hours, days, weeks, months or years (e.g. 7 days), or "
                "never"
            )
        return value

    @field_validator("raw_retention", "aggregate_retention")
    @classmethod
    def _retention(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip().lower()
        if value == "keep":
            return value
        days = interval_days(value)
        if days is None or days < MIN_RETENTION_DAYS:
            raise ValueError(
                f"must be keep, or at least {MIN_RETENTION_DAYS} days written as hours, days, "
                "weeks, months or years (e.g. 13 months): the monthly aggregate is refreshed from "
                "the raw rows of the last 3 months"
            )
        raw = info.data.get("raw_retention")
        if info.field_name == "aggregate_retention" and raw is not None and (
                raw == "keep" or days < (interval_days(raw) or 0)):
            raise ValueError("must be keep or at least SIMUSAGE_RAW_RETENTION")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def dead_letters(self) -> str:
        """The dead-letter topic: the setting, or `<topic>.dlq`."""
        return self.dead_letter_topic or f"{self.topic}.dlq"

    @property
    def metrics_operation_names(self) -> frozenset[str]:
        """Operation names that metrics label by name, from the comma-separated setting."""
        return frozenset(name.strip() for name in self.metrics_operations.split(",") if name.strip())

    @property
    def cors_origin_list(self) -> list[str]:
        """Allowed CORS origins, from the comma-separated setting."""
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


def _variable_name(location: tuple) -> str:
    field = Settings.model_fields.get(str(location[0])) if location else None
    alias = getattr(field, "validation_alias", None) if field else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return str(location[0]) if location else "?"


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; a bad value raises SettingsError naming its variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{_variable_name(item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
