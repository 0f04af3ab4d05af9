"""clinstream's topics in one table, and the one way every client reaches the broker.

A row names the `KafkaSettings` field that holds the topic's name, the message on it and its
key. The Faust app declares its topics from the table, `clinstream up` creates them from it, and
every aiokafka client (the CLI's decisions, the demo's, the benchmarks', the tests') is built by
`producer`, `consumer` or `admin` here from one `KafkaSettings`, so none can forget the broker's
TLS or SASL options. The worker's Faust app gets the same options (`faust_credentials`).
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fhir.resources.R4B.bundle import Bundle
from pydantic import BaseModel

from models.formats import NoteFormat
from models.messages import (
    AdeCase,
    AdverseDrugEvent,
    ClinicalNote,
    DeadLetter,
    DriftReport,
    Extraction,
    ModelDecision,
    SignalChange,
    TeacherLabel,
    TeacherRequest,
)
from streams.settings import KafkaSettings


@dataclass(frozen=True)
class Topic:
    setting: str  # the KafkaSettings field (CLINSTREAM_KAFKA_<SETTING>) that names it
    message: type[BaseModel] | None  # None: a hospital format the worker decodes itself
    key: str  # what the record key holds
    note_format: NoteFormat | None = None  # set on the topics notes arrive on
    # One partition where one consumer must see every record (the signals' 2x2 tables need
    # every case); None: the deployment's partition count.
    partitions: int | None = None
    compacted: bool = False  # the latest record per key is what matters (state)


TOPICS = (
    Topic("notes_topic", ClinicalNote, "note_id", NoteFormat.JSON),
    Topic("hl7v2_notes_topic", None, "as the sender set it", NoteFormat.HL7V2),
    Topic("fhir_notes_topic", None, "as the sender set it", NoteFormat.FHIR),
    Topic("entities_topic", Extraction, "note_id"),
    Topic("ade_topic", AdverseDrugEvent, "note_id"),
    Topic("ade_cases_topic", AdeCase, "case_id", partitions=1, compacted=True),
    Topic("ade_signals_topic", SignalChange, "pair_id"),
    Topic("fhir_topic", Bundle, "note_id"),
    Topic("dead_letter_topic", DeadLetter, "the rejected message's key"),
    Topic("teacher_requests_topic", TeacherRequest, "note_id"),
    Topic("teacher_labels_topic", TeacherLabel, "note_id"),
    Topic("drift_topic", DriftReport, "none"),
    Topic("decisions_topic", ModelDecision, "none"),
)


def declared_options(kafka: KafkaSettings, name: str) -> dict[str, Any]:
    """How Faust should create the topic named `name` where it creates topics (Apache Kafka
    with auto-declaration): the row's partitions and compaction, or Faust's defaults."""
    for topic in TOPICS:
        if getattr(kafka, topic.setting) == name:
            return {"partitions": topic.partitions, "compacting": topic.compacted or None}
    raise KeyError(f"{name} is not a clinstream topic")


def new_topics(kafka: KafkaSettings) -> list[NewTopic]:
    """Every topic as `clinstream up` creates it: partitions and cleanup policy."""
    return [
        NewTopic(
            getattr(kafka, topic.setting),
            num_partitions=topic.partitions or kafka.partitions,
            replication_factor=1,
            topic_configs={"cleanup.policy": "compact"} if topic.compacted else {},
        )
        for topic in TOPICS
    ]


def note_topics(kafka: KafkaSettings) -> dict[str, NoteFormat]:
    """The topics notes arrive on, each with the format its messages are in."""
    return {
        getattr(kafka, topic.setting): topic.note_format
        for topic in TOPICS
        if topic.note_format is not None
    }


def encode(message: BaseModel) -> bytes:
    """A message as it goes on a topic: its JSON, UTF-8."""
    return message.model_dump_json().encode("utf-8")


async def send(topic: Any, message: BaseModel, key: str | None = None) -> None:
    """Publish one message on a Faust topic (its values stay raw bytes: we encode)."""
    await topic.send(key=key.encode("utf-8") if key is not None else None, value=encode(message))


def producer(kafka: KafkaSettings, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, **kafka.client_options(), **options)


def consumer(kafka: KafkaSettings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=kafka.bootstrap,
        fetch_max_wait_ms=kafka.fetch_max_wait_ms,
        **kafka.client_options(),
        **options,
    )


def admin(kafka: KafkaSettings, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=kafka.bootstrap, **kafka.client_options(), **options
    )


async def read_partition(
    kafka: KafkaSettings, topic: str, until: int | None = None, partition: int = 0
) -> AsyncIterator[ConsumerRecord]:
    """A partition's records from its start, outside any consumer group: up to offset `until`
    (exclusive), or to the end the fetch responses report.

    Not to `end_offsets`: Tansu's ListOffsets answers the base offset of the last batch + 1
    (26 for 30 records sent in batches of 5, measured), which is why Faust's table recovery
    stops short there; its fetch responses' high watermark is right (30)."""
    client = consumer(kafka, enable_auto_commit=False, auto_offset_reset="earliest")
    await client.start()
    try:
        where = TopicPartition(topic, partition)
        client.assign([where])
        await client.seek_to_beginning(where)
        while True:
            end = until if until is not None else client.highwater(where)
            if end is not None and await client.position(where) >= end:
                return
            fetched = await client.getmany(where, timeout_ms=1000)
            for record in fetched.get(where, []):
                if until is not None and record.offset >= until:
                    return
                yield record
    finally:
        await client.stop()


async def committed_offsets(
    kafka: KafkaSettings, group: str, partitions: list[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The consumer group's committed offset of each (topic, partition) that has one, read by
    a consumer outside the group (Tansu answers its OffsetFetch; not the admin client's)."""
    client = consumer(kafka, group_id=group, enable_auto_commit=False)
    await client.start()
    try:
        committed = {where: await client.committed(TopicPartition(*where)) for where in partitions}
    finally:
        await client.stop()
    return {where: offset for where, offset in committed.items() if offset is not None}
