"""One batch of note events -> Extractions, ADE events and dead letters.

Every message read ends in exactly one of: an Extraction on the entities topic, or a
DeadLetter. Outputs are keyed by note_id with stable ids, so re-delivery after a crash
(at-least-once) yields duplicates a consumer can drop, never different answers.
"""

import base64
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from faust.types import EventT, TopicT
from tritonclient.utils import InferenceServerException

from streams import metrics
from streams.sampling import Sampler
from streams.schemas import (
    AdverseDrugEvent,
    ClinicalNote,
    DeadLetter,
    DeadLetterReason,
    Extraction,
    NoteRejected,
    TeacherRequest,
    Timings,
    parse_note,
)
from streams.triton_client import TritonStudent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputTopics:
    entities: TopicT
    ade: TopicT
    dead_letters: TopicT
    teacher_requests: TopicT


async def process_batch(
    events: Sequence[EventT],
    student: TritonStudent,
    topics: OutputTopics,
    max_note_chars: int,
    model_name: str,
    sampler: Sampler,
) -> None:
    metrics.NOTES_IN.inc(len(events))
    notes: list[tuple[EventT, ClinicalNote]] = []
    for event in events:
        try:
            notes.append((event, parse_note(event.value, max_note_chars)))
        except NoteRejected as rejection:
            await dead_letter(topics, event, rejection)
    if not notes:
        return

    received_at = datetime.now(UTC)
    metrics.BATCH_SIZE.observe(len(notes))
    try:
        result = await student.extract([note.text for _, note in notes])
    except InferenceServerException as error:
        for event, note in notes:
            rejection = NoteRejected(
                DeadLetterReason.INFERENCE_FAILED,
                f"Triton failed after retries with status {error.status()}",
                note.note_id,
            )
            await dead_letter(topics, event, rejection)
        return

    for (event, note), annotations in zip(notes, result.annotations, strict=True):
        published_at = datetime.now(UTC)
        end_to_end = max(0.0, published_at.timestamp() - event.message.timestamp)
        extraction = Extraction(
            note_id=note.note_id,
            patient_id=note.patient_id,
            encounter_id=note.encounter_id,
            model_name=model_name,
            model_version=result.model_version,
            entities=annotations.entities,
            ade_pairs=annotations.ade_pairs,
            timings=Timings(
                received_at=received_at,
                published_at=published_at,
                triton_ms=round(result.seconds * 1000, 2),
                end_to_end_ms=round(end_to_end * 1000, 2),
            ),
        )
        key = note.note_id.encode("utf-8")
        for pair in annotations.ade_pairs:
            event_id = hashlib.sha256(
                f"{note.note_id}:{pair.drug.start}:{pair.drug.end}:"
                f"{pair.effect.start}:{pair.effect.end}".encode()
            ).hexdigest()[:32]
            ade = AdverseDrugEvent(
                event_id=event_id,
                note_id=note.note_id,
                patient_id=note.patient_id,
                encounter_id=note.encounter_id,
                drug=pair.drug,
                effect=pair.effect,
                confidence=pair.confidence,
                model_name=model_name,
                model_version=result.model_version,
                detected_at=published_at,
            )
            await topics.ade.send(key=key, value=ade.model_dump_json().encode("utf-8"))
        await topics.entities.send(key=key, value=extraction.model_dump_json().encode("utf-8"))
        reason = sampler.choose(note.note_id, annotations)
        if reason is not None:
            request = TeacherRequest(note=note, student=extraction, reason=reason)
            await topics.teacher_requests.send(key=key, value=request.model_dump_json().encode())
            metrics.SAMPLES_SENT.labels(reason=reason.value).inc()
        metrics.NOTES_OUT.inc()
        metrics.ADE_PAIRS.inc(len(annotations.ade_pairs))
        for entity in annotations.entities:
            metrics.ENTITIES.labels(type=entity.type.value).inc()
        metrics.END_TO_END_LATENCY.observe(end_to_end)


async def dead_letter(topics: OutputTopics, event: EventT, rejection: NoteRejected) -> None:
    message = event.message
    letter = DeadLetter(
        reason=rejection.reason,
        error=rejection.error,
        payload_base64=base64.b64encode(event.value).decode("ascii"),
        source_topic=message.topic,
        source_partition=message.partition,
        source_offset=message.offset,
        note_id=rejection.note_id,
    )
    key = rejection.note_id.encode("utf-8") if rejection.note_id else None
    await topics.dead_letters.send(key=key, value=letter.model_dump_json().encode("utf-8"))
    metrics.DEAD_LETTERS.labels(reason=rejection.reason.value).inc()
    log.warning(
        "dead-lettered %s[%d]@%d: %s",
        message.topic,
        message.partition,
        message.offset,
        rejection.reason.value,
    )
