"""clinstream's topics in one table, and the one way every client reaches the broker.

A row names the `KafkaSettings` field that holds the topic's name, the message on it and its
key. The Faust app declares its topics from the table, `clinstream up` creates them from it, and
every aiokafka client (the CLI's decisions, the demo's, the benchmarks', the tests') is built by
`producer`, `consumer` or `admin` here from one `KafkaSettings`, so none can forget the broker's
TLS or SASL options. The worker's Faust app gets the same options (`faust_credentials`).
"""

from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from fhir.resources.R4B.bundle import Bundle
from pydantic import BaseModel

from models.formats import NoteFormat
from models.messages import (
    AdverseDrugEvent,
    ClinicalNote,
    DeadLetter,
    DriftReport,
    Extraction,
    ModelDecision,
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


TOPICS = (
    Topic("notes_topic", ClinicalNote, "note_id", NoteFormat.JSON),
    Topic("hl7v2_notes_topic", None, "as the sender set it", NoteFormat.HL7V2),
    Topic("fhir_notes_topic", None, "as the sender set it", NoteFormat.FHIR),
    Topic("entities_topic", Extraction, "note_id"),
    Topic("ade_topic", AdverseDrugEvent, "note_id"),
    Topic("fhir_topic", Bundle, "note_id"),
    Topic("dead_letter_topic", DeadLetter, "the rejected message's key"),
    Topic("teacher_requests_topic", TeacherRequest, "note_id"),
    Topic("teacher_labels_topic", TeacherLabel, "note_id"),
    Topic("drift_topic", DriftReport, "none"),
    Topic("decisions_topic", ModelDecision, "none"),
)


def topic_names(kafka: KafkaSettings) -> list[str]:
    """Every topic clinstream reads or writes, as this deployment names them."""
    return [getattr(kafka, topic.setting) for topic in TOPICS]


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
        *topics, bootstrap_servers=kafka.bootstrap, **kafka.client_options(), **options
    )


def admin(kafka: KafkaSettings, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=kafka.bootstrap, **kafka.client_options(), **options
    )
