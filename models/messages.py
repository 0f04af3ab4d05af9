"""Message contracts on the wire: JSON, one pydantic model per topic, each versioned.

Parse at the edge (bytes -> model): notes with `models.formats.parse_note`, clinstream's own
messages with `decode_message`; inside, pass models.

Version 2 added concept codes to entities; version 3 their assertion (possible, hypothetical,
historical, family) and section, and the ADE event's actuality. Older messages are still read:
what they lack reads as its default (no codes; asserted; no section; an actual event).

One module of some 330 lines on purpose: every topic's contract in one place, so the whole
wire format reads at once and the JSON Schemas come from one list.
"""

import base64
import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models.spans import AdePair, Annotations, Code, Entity

SCHEMA_VERSION = 3
JSON_SCHEMA_DIR = Path(__file__).parent / "jsonschema"
M = TypeVar("M", bound=BaseModel)


def _now() -> datetime:
    return datetime.now(UTC)


def content_hash(text: str) -> str:
    """What `Extraction.content_sha256` holds for a note's text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def encodable(text: str) -> bool:
    """Whether the text encodes as UTF-8 (a lone surrogate does not)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ClinicalNote(BaseModel):
    """A note as published by the hospital's integration engine (topic clinical.notes)."""

    model_config = ConfigDict(extra="ignore")

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    note_id: str = Field(min_length=1, max_length=256)
    text: str
    note_type: str = "unknown"
    source: str = "unknown"
    patient_id: str | None = None
    patient_id_system: str | None = Field(
        None,
        description="Where the source named the patient by an identifier (an MRN), not by a "
        "resource id: the identifier's system, so findings name the patient the same way.",
    )
    note_id_system: str | None = Field(
        None,
        description="Where the source named the document by an identifier, not a resource id: "
        "the identifier's system ('' for none; urn:ietf:rfc:3986 for a Bundle fullUrl), so "
        "findings refer to it by identifier.",
    )
    encounter_id: str | None = None
    authored_at: datetime | None = None
    published_at: datetime | None = None

    @field_validator(
        "note_id", "text", "note_type", "source", "patient_id", "patient_id_system", "encounter_id"
    )
    @classmethod
    def _unicode_text(cls, value: str | None) -> str | None:
        """A lone surrogate (JSON allows "\\ud800") is no Unicode text: nothing downstream
        can encode it, so it is refused here, at the edge."""
        if value is not None and not encodable(value):
            raise ValueError("holds a lone surrogate, which is not Unicode text")
        return value


class Timings(BaseModel):
    received_at: datetime
    published_at: datetime
    triton_ms: float = Field(ge=0)
    end_to_end_ms: float = Field(ge=0, description="From the note's Kafka timestamp.")


class Extraction(BaseModel):
    """What a model found in one note: on topic clinical.entities (key note_id), and one line
    of the JSON Lines files of `clinstream label` and `clinstream extract`."""

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    note_id: str
    patient_id: str | None = None
    encounter_id: str | None = None
    model_name: str
    model_version: str
    entities: list[Entity]
    ade_pairs: list[AdePair]
    content_sha256: str | None = Field(
        None,
        description="SHA-256 of the note's text: one document sent twice (a resend, or a "
        "DocumentReference and a DiagnosticReport of one report) has the same hash.",
    )
    timings: Timings | None = Field(None, description="Set on the stream.")
    source_topic: str | None = Field(None, description="The message it answers (on the stream).")
    source_partition: int | None = None
    source_offset: int | None = None
    text: str | None = Field(
        None,
        description="The note, in label files only, so they train on their own; "
        "never on the stream.",
    )


class AdverseDrugEvent(BaseModel):
    """One drug -> adverse-effect pair (topic clinical.ade, key note_id)."""

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    # Stable across re-processing, so consumers can de-duplicate at-least-once delivery.
    event_id: str
    note_id: str
    patient_id: str | None = None
    encounter_id: str | None = None
    drug: Entity
    effect: Entity
    confidence: float = Field(ge=0.0, le=1.0)
    actuality: Literal["actual", "potential"] = Field(
        "actual",
        description="potential: the note states the effect as possible or hypothetical "
        "('may cause', 'if rash develops'), as FHIR AdverseEvent.actuality says it. Negated "
        "effects and a family member's are never published as events.",
    )
    model_name: str
    model_version: str
    detected_at: datetime


class Concept(BaseModel):
    """A drug or an event as signals count it: by its first trusted code where the mention has
    one, otherwise by its normalised text."""

    key: str = Field(description="'<code system>|<code>', or 'text|<normalised mention>'.")
    display: str
    codes: list[Code] = Field(default_factory=list)


class AdeCase(BaseModel):
    """A patient's drug -> adverse event, counted once however many notes, mentions, replays or
    workers report it (topic clinical.ade.cases, key case_id). No patient id: only its hash,
    inside case_id."""

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    case_id: str = Field(description="Hash of the patient (or note, if none), drug and event.")
    drug: Concept
    event: Concept
    note_id: str = Field(description="The note that reported it first.")
    reported_at: datetime = Field(description="When that note's event was detected.")


class Disproportionality(BaseModel):
    """The pair's 2x2 table of cases and its measures (None: undefined, a zero divisor)."""

    a: int = Field(description="Cases of this drug with this event.")
    b: int = Field(description="Cases of this drug with other events.")
    c: int = Field(description="Cases of other drugs with this event.")
    d: int = Field(description="Cases of other drugs with other events.")
    prr: float | None
    chi2: float | None = Field(description="Pearson's chi-squared with Yates' correction.")
    ror: float | None
    ror_lower: float | None = Field(description="95% confidence interval of the ROR.")
    ror_upper: float | None
    ic: float | None = Field(description="Information component (BCPNN, shrunk by 0.5).")
    ic025: float | None = Field(description="Its 2.5% credibility lower bound.")


class SignalChange(BaseModel):
    """A drug-event pair becoming or ceasing to be a signal (topic clinical.ade.signals, key
    pair_id): one message per change, not per case. A replay after a crash may repeat one with
    the same case_offset."""

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    pair_id: str
    drug: Concept
    event: Concept
    signal: bool
    criteria_met: list[Literal["evans", "ror", "ic"]]
    criteria_required: list[Literal["evans", "ror", "ic"]]
    statistics: Disproportionality
    basis: str = Field(description="'all cases', or 'cases of the last N days'.")
    cases_total: int = Field(description="N of the table: every case counted.")
    case_offset: int = Field(description="Offset on the cases topic the table was scored at.")
    changed_at: datetime = Field(description="Time of the newest case counted.")


class DeadLetterReason(StrEnum):
    MESSAGE_TOO_LARGE = "message_too_large"  # over the byte limit, refused before parsing
    INVALID_JSON = "invalid_json"  # no value, not UTF-8/16/32, not JSON, or nested too deep
    INVALID_SCHEMA = "invalid_schema"
    INVALID_HL7V2 = "invalid_hl7v2"  # not HL7 v2 ER7, or a segment or field we need is wrong
    INVALID_FHIR = "invalid_fhir"  # not a valid FHIR R4 resource
    UNSUPPORTED_MESSAGE = "unsupported_message"  # valid, but carries no document text we read
    EMPTY_TEXT = "empty_text"
    NOTE_TOO_LONG = "note_too_long"
    INFERENCE_FAILED = "inference_failed"  # fails on its own while Triton is ready
    PROCESSING_FAILED = "processing_failed"  # any other error on this one message
    TEACHER_FAILED = "teacher_failed"
    LABEL_STORE_FAILED = "label_store_failed"  # a teacher label the store kept refusing


class DeadLetter(BaseModel):
    """A message that could not be processed (topic clinical.notes.dlq), kept for replay.

    `error` never contains note text: it names fields and error kinds only.
    """

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    reason: DeadLetterReason
    error: str
    payload_base64: str = Field(
        description="The original message value, byte for byte; empty when it was larger than "
        "the worker's dead-letter payload limit (then replay it from the source offset)."
    )
    payload_bytes: int = Field(0, ge=0, description="Size of the original value.")
    payload_sha256: str = Field("", description="SHA-256 of the original value, hex.")
    payload_truncated: bool = False
    source_topic: str
    source_partition: int
    source_offset: int
    note_id: str | None = None
    failed_at: datetime = Field(default_factory=_now)

    def payload(self) -> bytes:
        return base64.b64decode(self.payload_base64)

    @classmethod
    def keeping(cls, payload: bytes | None, max_payload_bytes: int, **fields) -> "DeadLetter":
        """A dead letter carrying `payload` when it fits the limit, else its size and hash:
        a letter too big for the producer would fail to send and lose the outcome."""
        payload = payload or b""
        kept = len(payload) <= max_payload_bytes
        return cls(
            payload_base64=base64.b64encode(payload).decode("ascii") if kept else "",
            payload_bytes=len(payload),
            payload_sha256=hashlib.sha256(payload).hexdigest(),
            payload_truncated=not kept,
            **fields,
        )


class NoteRejected(ValueError):
    """A note that cannot be processed, with the reason code for the dead-letter topic."""

    def __init__(self, reason: DeadLetterReason, error: str, note_id: str | None = None):
        super().__init__(error)
        self.reason = reason
        self.error = error
        self.note_id = note_id


def decode_message(payload: bytes | None, model: type[M]) -> M:
    """bytes -> one of clinstream's own messages, or NoteRejected (invalid_schema)."""
    try:
        return model.model_validate_json(payload or b"")
    except ValidationError as error:
        raise NoteRejected(
            DeadLetterReason.INVALID_SCHEMA, f"not a {model.__name__}: {problems(error)}"
        ) from None


def problems(error: ValidationError) -> str:
    """Where and what is wrong, without the input values (they may be note text)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'message'}: {problem['msg']}"
        for problem in error.errors(include_input=False, include_url=False)
    )


class SampleReason(StrEnum):
    RANDOM = "random"  # the deterministic slice by hash of note_id
    UNCERTAIN = "uncertain"  # the student was unsure of some entity


class TeacherRequest(BaseModel):
    """A sampled note for the teacher (topic clinical.teacher.requests), with what the student
    said, so agreement can be measured without asking the student again."""

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    note: ClinicalNote
    student: Extraction
    reason: SampleReason
    requested_at: datetime = Field(default_factory=_now)

    def student_annotations(self) -> Annotations:
        return Annotations(entities=self.student.entities, ade_pairs=self.student.ade_pairs)


class TeacherLabel(BaseModel):
    """The teacher's reading of a sampled note beside the student's (topic
    clinical.teacher.labels); the label store keeps these, with the text, for retraining."""

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    note_id: str
    patient_id: str | None = Field(None, description="So `clinstream purge` can find it.")
    text: str
    reason: SampleReason
    teacher_name: str
    teacher_version: str
    teacher: Annotations
    student: Annotations
    student_model_version: str
    teacher_seconds: float = Field(ge=0)
    teacher_cost_usd: float = Field(0.0, ge=0)
    labelled_at: datetime = Field(default_factory=_now)


class DriftReport(BaseModel):
    """Rolling agreement between student and teacher (topic clinical.drift)."""

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    samples: int
    agreement_f1: dict[str, float]  # entity type and "micro" -> strict F1, student vs teacher
    assertion_agreement_f1: dict[str, float] = Field(
        default_factory=dict,
        description="On the mentions both found: speculation, negation, family -> F1 of the "
        "student's marking against the teacher's (where the teacher marked any).",
    )
    student_entities_per_note: dict[str, float]
    teacher_entities_per_note: dict[str, float]
    confidence_psi: float | None
    drift_score: float = Field(description="1 - micro agreement F1.")
    threshold: float
    drifted: bool
    model_versions: list[str]
    reported_at: datetime = Field(default_factory=_now)


class Decision(StrEnum):
    PROMOTED = "promoted"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"


class ModelDecision(BaseModel):
    """What a retrain or rollback did, with its figures (topic clinical.model.decisions)."""

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    decision: Decision
    reason: str
    current_version: int | None
    candidate_version: int | None = None
    serving_version: int | None
    current_f1: dict[str, float] = {}
    candidate_f1: dict[str, float] = {}
    tolerance: float | None = None
    train_samples: int = 0
    held_out_samples: int = 0
    decided_at: datetime = Field(default_factory=_now)


MESSAGES: dict[str, type[BaseModel]] = {
    "ClinicalNote": ClinicalNote,
    "Extraction": Extraction,
    "AdverseDrugEvent": AdverseDrugEvent,
    "DeadLetter": DeadLetter,
    "TeacherRequest": TeacherRequest,
    "TeacherLabel": TeacherLabel,
    "DriftReport": DriftReport,
    "ModelDecision": ModelDecision,
    "AdeCase": AdeCase,
    "SignalChange": SignalChange,
}


def json_schemas() -> dict[str, str]:
    """File name -> JSON Schema text of every message, as committed under models/jsonschema."""
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2) + "\n"
        for name, model in MESSAGES.items()
    }


def write_json_schemas(directory: Path = JSON_SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in json_schemas().items():
        (directory / name).write_text(text)
        written.append(directory / name)
    return written
