"""Exit 0 when the ingest consumer group has committed every record of the topic, else 1.

`make up` polls it after sending the demo events. It reads Kafka's committed offsets, which
the worker advances only after the database transaction of those records has committed.
"""

from __future__ import annotations

import sys

from kafka import KafkaConsumer, TopicPartition

from simusage.settings import get_settings


def main() -> int:
    """Compare the group's committed offsets with the topic's end offsets."""
    settings = get_settings()
    # Asking for committed offsets does not join the group, so the workers are not disturbed.
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    try:
        partitions = consumer.partitions_for_topic(settings.topic) or set()
        ends = consumer.end_offsets([TopicPartition(settings.topic, p) for p in partitions])
        behind = [
            partition for partition, end in ends.items()
            if end > (consumer.committed(partition) or 0)
        ]
    finally:
        consumer.close(autocommit=False)
    return 1 if behind or not partitions else 0


if __name__ == "__main__":
    sys.exit(main())
