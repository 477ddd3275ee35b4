"""The dead-letter topic is created with room for the source topic's largest records."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from ingest.dead_letter_topic import HEADROOM, dead_letter_topic_configs, ensure_dead_letter_topic
from tests.conftest import KAFKA, settings_for


def test_the_configs_take_the_larger_of_the_source_and_the_setting() -> None:
    assert dead_letter_topic_configs(5_000_000, 1_000_000) == {"max.message.bytes": str(5_000_000 + HEADROOM)}
    assert dead_letter_topic_configs(None, 1_000_000) == {"max.message.bytes": str(1_000_000 + HEADROOM)}


def max_message_bytes(admin: KafkaAdminClient, topic: str) -> int:
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": None})], config_filter="all"
    )
    return int(described["topic"][topic]["max.message.bytes"]["value"])


@pytest.mark.kafka
def test_the_topic_is_created_with_the_source_topics_limit_and_left_alone_after() -> None:
    source, letters = f"dlt-{uuid.uuid4().hex[:8]}", f"dlt-{uuid.uuid4().hex[:8]}.dlq"
    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    admin.create_topics({source: {"num_partitions": 1, "replication_factor": 1,
                                  "configs": {"max.message.bytes": "3000000"}}})
    settings = settings_for("postgresql://unused/x", SIMUSAGE_TOPIC=source,
                            SIMUSAGE_DEAD_LETTER_TOPIC=letters)
    try:
        assert ensure_dead_letter_topic(settings)
        assert max_message_bytes(admin, letters) == 3_000_000 + HEADROOM
        assert ensure_dead_letter_topic(settings)  # exists: nothing to do
        assert max_message_bytes(admin, letters) == 3_000_000 + HEADROOM
    finally:
        with contextlib.suppress(Exception):
            admin.delete_topics([source, letters])
        admin.close()
