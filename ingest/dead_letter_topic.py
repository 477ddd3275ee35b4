"""The dead-letter topic, created where it may be with room for any record of the source topic.

A broker's auto-created topic takes the broker's default `max.message.bytes` (about 1 MB): a
source topic configured for larger records would then have records whose dead letters could
only be kept truncated. Created here, once, at the worker's start, before any dead letter.
"""

from __future__ import annotations

import logging

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from simusage.settings import Settings

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = "max.message.bytes"
# Room for the worker's headers and the record batch around the original record.
HEADROOM = 64 * 1024


def dead_letter_topic_configs(source_max_message_bytes: int | None, dead_letter_max_bytes: int) -> dict[str, str]:
    """The dead-letter topic's configs: max.message.bytes at least the source topic's, plus room."""
    wanted = max(source_max_message_bytes or 0, dead_letter_max_bytes) + HEADROOM
    return {MAX_MESSAGE_BYTES: str(wanted)}


def ensure_dead_letter_topic(settings: Settings) -> bool:
    """Create the dead-letter topic if it does not exist; False (and one WARNING saying why)
    if the broker did not let us, in which case the broker's auto-creation, if on, applies."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
            client_id=f"simusage-dead-letter-topic-{settings.consumer_group}",
            request_timeout_ms=10_000,
        )
    except Exception as error:  # noqa: BLE001 - the worker's own connection reports the broker
        log.warning("dead-letter topic %s not checked: %s", settings.dead_letters, type(error).__name__)
        return False
    try:
        if settings.dead_letters in admin.list_topics():
            return True
        source = _max_message_bytes(admin, settings.topic)
        configs = dead_letter_topic_configs(source, settings.dead_letter_max_bytes)
        admin.create_topics(
            {settings.dead_letters: {"num_partitions": 1, "replication_factor": -1, "configs": configs}},
            raise_errors=True,
        )
        log.info("created dead-letter topic %s (%s=%s)", settings.dead_letters, MAX_MESSAGE_BYTES,
                 configs[MAX_MESSAGE_BYTES])
        return True
    except Exception as error:  # noqa: BLE001 - no ACL to create topics, a race with another worker
        if settings.dead_letters in _topics(admin):
            return True  # another worker created it meanwhile
        log.warning("dead-letter topic %s not created (%s: %s); the broker's defaults apply",
                    settings.dead_letters, type(error).__name__, str(error)[:200])
        return False
    finally:
        admin.close()


def _max_message_bytes(admin: KafkaAdminClient, topic: str) -> int | None:
    """The source topic's max.message.bytes, or None where it cannot be read."""
    try:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {MAX_MESSAGE_BYTES: None})],
            config_filter="all",
        )
        return int(described["topic"][topic][MAX_MESSAGE_BYTES]["value"])
    except Exception:  # noqa: BLE001 - no such topic yet, or no right to describe it
        return None


def _topics(admin: KafkaAdminClient) -> list[str]:
    try:
        return admin.list_topics()
    except Exception:  # noqa: BLE001
        return []
