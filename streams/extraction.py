"""One batch of note events -> Extractions, ADE events and dead letters.

Every document read ends in exactly one of: an Extraction on the entities topic, or a
DeadLetter, whatever else is in its batch; a message holds one document, or several (a FHIR
Bundle), each with its own outcome. Outputs are keyed by note_id with stable ids, so
re-delivery after a crash (at-least-once) yields duplicates a consumer can drop, never
different answers.

A message's offset becomes committable only once its outcome is sent: each message is held
(`incref`) on arrival and released when its outcome is out. Faust's `take_events` acks a
batch in a `finally`, whatever became of it, so an error escaping a batch (a send that fails)
would otherwise let the next periodic commit skip notes that never got an outcome.

A note longer than one chunk goes to a lane of its own (`_extract_long`) and is acked when it
is done, while the actor takes the next batches.

Every path to a document's outcome is in this one module (some 360 lines), so that the
one-outcome guarantee can be checked by reading it.
"""

import asyncio
import hashlib
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from faust.types import EventT, TopicT
from tritonclient.utils import InferenceServerException

from models import codes
from models.backoff import delays
from models.chunks import chunk_spans, join_chunks
from models.formats import NoteFormat, parse_notes
from models.messages import (
    AdverseDrugEvent,
    ClinicalNote,
    DeadLetter,
    DeadLetterReason,
    Extraction,
    NoteRejected,
    TeacherRequest,
    Timings,
    content_hash,
)
from models.spans import Annotations
from streams import metrics
from streams.fhir_out import findings_bundle
from streams.sampling import Sampler
from streams.settings import TritonSettings, WorkerSettings
from streams.topics import send
from streams.triton_client import StudentResult, TritonStudent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputTopics:
    entities: TopicT
    ade: TopicT
    dead_letters: TopicT
    teacher_requests: TopicT
    fhir: TopicT | None = None  # FHIR Bundles of findings, when CLINSTREAM_WORKER_FHIR_OUTPUT


@dataclass(frozen=True)
class Inferred:
    """The student's reading of one text, and the request that made it."""

    annotations: Annotations
    request: StudentResult


@dataclass(frozen=True)
class Failed:
    """A text the student failed on while Triton was ready; `cause` names no note text."""

    cause: str


class BatchProcessor:
    """Runs batches of note events through the student and publishes one outcome each."""

    def __init__(
        self,
        student: TritonStudent,
        topics: OutputTopics,
        note_formats: dict[str, NoteFormat],
        worker: WorkerSettings,
        triton: TritonSettings,
        sampler: Sampler,
    ) -> None:
        self.student = student
        self.topics = topics
        self.note_formats = note_formats
        self.worker = worker
        self.triton = triton
        self.sampler = sampler
        # Long notes' own lane: one at a time, beside the batches, each acked when done.
        self._long_lane = asyncio.Semaphore(1)
        self._lane_tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Builds the code indexes off the event loop, so the first note does not wait."""
        await asyncio.to_thread(codes.load)

    async def process(self, events: Sequence[EventT]) -> None:
        metrics.NOTES_IN.inc(len(events))
        for event in events:
            event.message.incref()  # released by event.ack() once its outcomes are sent
        notes: list[tuple[EventT, ClinicalNote]] = []
        for event in events:
            for outcome in parse_notes(
                event.value,
                self.worker.max_message_bytes,
                self.worker.max_note_chars,
                self.note_formats.get(event.message.topic, NoteFormat.JSON),
            ):
                if isinstance(outcome, NoteRejected):
                    await self.dead_letter(event, outcome)
                else:
                    notes.append((event, outcome))
        received_at = datetime.now(UTC)
        short = [(e, n) for e, n in notes if len(n.text) <= self.worker.chunk_chars]
        if short:
            await self._extract_group(short, received_at)
        long: dict[int, list[tuple[EventT, ClinicalNote]]] = {}
        for event, note in notes:
            if len(note.text) > self.worker.chunk_chars:
                long.setdefault(id(event), []).append((event, note))
        # A message is done once each of its documents has its outcome (a Bundle has several).
        for event in events:
            if id(event) not in long:
                event.ack()
        for group in long.values():
            await self._long_lane.acquire()  # at most one long note in hand: backpressure
            task = asyncio.create_task(self._extract_long(group, received_at))
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_done)

    def _lane_done(self, task: asyncio.Task) -> None:
        """A lane task that failed leaves its message unacked (replayed after a restart, and
        commits wait there, which the lag alert shows): say so, by the error's type only."""
        self._lane_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a long note's extraction failed (%s); its message stays uncommitted",
                      type(task.exception()).__name__)  # fmt: skip

    async def finish(self) -> None:
        """Wait for the long notes in the lane (a test's end, a drained batch)."""
        await asyncio.gather(*self._lane_tasks)

    async def _extract_long(
        self, notes: list[tuple[EventT, ClinicalNote]], received_at: datetime
    ) -> None:
        """A message's long notes, one at a time, while the actor takes new batches: a note at
        the size limit delays its own outcome, not the notes read after it. Its offset stays
        uncommitted until it is done (a crash replays it)."""
        try:
            for note in notes:
                await self._extract_group([note], received_at)
            notes[0][0].ack()
        finally:
            self._long_lane.release()

    async def _extract_group(
        self, notes: list[tuple[EventT, ClinicalNote]], received_at: datetime
    ) -> None:
        spans = [chunk_spans(note.text, self.worker.chunk_chars) for _, note in notes]
        texts = [
            note.text[start:end]
            for (_, note), note_spans in zip(notes, spans, strict=True)
            for start, end in note_spans
        ]
        metrics.BATCH_SIZE.observe(len(notes))
        results = iter(await self.infer(texts))
        for (event, note), note_spans in zip(notes, spans, strict=True):
            chunks = [next(results) for _ in note_spans]  # in order: this note's chunks
            failures = [chunk.cause for chunk in chunks if isinstance(chunk, Failed)]
            if failures:
                rejection = NoteRejected(
                    DeadLetterReason.INFERENCE_FAILED,
                    f"the student failed on this note while Triton was ready ({failures[0]})",
                    note.note_id,
                )
                await self.dead_letter(event, rejection)
                continue
            try:
                await self.publish(event, note, note_spans, chunks, received_at)
            except Exception as error:  # noqa: BLE001 (one note's failure stays its own)
                # The frames, not the message: an error's message may quote the note.
                log.error("processing failed on %s: %s\n%s", _where(event), type(error).__name__,
                          "".join(traceback.format_tb(error.__traceback__)))  # fmt: skip
                rejection = NoteRejected(
                    DeadLetterReason.PROCESSING_FAILED,
                    f"processing failed: {type(error).__name__}",
                    note.note_id,
                )
                await self.dead_letter(event, rejection)

    async def infer(self, texts: list[str]) -> list[Inferred | Failed]:
        """The student's reading of every text, in order, in requests of at most `batch_size`
        texts and `request_chars` characters (a long note's chunks take several requests, and
        other batches' requests reach Triton between them)."""
        results: list[Inferred | Failed] = []
        for request in _requests(texts, self.worker.batch_size, self.worker.request_chars):
            results += await self._request(request, True)
        return results

    async def _request(self, texts: list[str], retry: bool) -> list[Inferred | Failed]:
        """One request until it succeeds; waits out outages; splits a batch that keeps failing.

        A request is retried (`CLINSTREAM_TRITON_RETRIES`) when it is a whole batch or a
        single note; the halves of a split batch get one try each before they split again,
        so a note that fails on its own is found in a few requests and fails alone.
        """
        attempt, waits = 0, delays(1.0)
        while True:
            await self.student.wait_until_ready()
            try:
                result = await self.student.extract(texts)
            except Exception as error:  # noqa: BLE001 (Triton, transport or response: all handled)
                metrics.TRITON_ERRORS.inc()
                cause = _cause(error)
                if not await self.student.ready():
                    continue  # an outage began: wait it out, then the same request again
                if (retry or len(texts) == 1) and attempt < self.triton.retries:
                    attempt += 1
                    log.warning("Triton request of %d texts failed (%s), retry %d/%d",
                                len(texts), cause, attempt, self.triton.retries)  # fmt: skip
                    await asyncio.sleep(next(waits))
                    continue
                if len(texts) == 1:
                    return [Failed(cause)]
                half = len(texts) // 2
                return await self._request(texts[:half], False) + await self._request(
                    texts[half:], False
                )
            return [Inferred(annotations, result) for annotations in result.annotations]

    async def publish(
        self,
        event: EventT,
        note: ClinicalNote,
        spans: list[tuple[int, int]],
        chunks: list[Inferred],
        received_at: datetime,
    ) -> None:
        annotations = codes.with_codes(
            join_chunks(note.text, spans, [chunk.annotations for chunk in chunks])
        )
        # Chunks of one note may straddle a promotion; the newest version is reported.
        model_version = max((chunk.request.model_version for chunk in chunks), key=int)
        # Each request the note took part in counts once, however many of its chunks it held.
        requests = {id(chunk.request): chunk.request for chunk in chunks}.values()
        model_name = self.triton.model_name
        published_at = datetime.now(UTC)
        end_to_end = max(0.0, published_at.timestamp() - event.message.timestamp)
        extraction = Extraction(
            note_id=note.note_id,
            patient_id=note.patient_id,
            encounter_id=note.encounter_id,
            model_name=model_name,
            model_version=model_version,
            entities=annotations.entities,
            ade_pairs=annotations.ade_pairs,
            content_sha256=content_hash(note.text),
            timings=Timings(
                received_at=received_at,
                published_at=published_at,
                triton_ms=round(sum(request.seconds for request in requests) * 1000, 2),
                end_to_end_ms=round(end_to_end * 1000, 2),
            ),
            source_topic=event.message.topic,
            source_partition=event.message.partition,
            source_offset=event.message.offset,
        )
        ades = [
            AdverseDrugEvent(
                event_id=hashlib.sha256(
                    f"{note.note_id}:{pair.drug.start}:{pair.drug.end}:"
                    f"{pair.effect.start}:{pair.effect.end}".encode()
                ).hexdigest()[:32],
                note_id=note.note_id,
                patient_id=note.patient_id,
                encounter_id=note.encounter_id,
                drug=pair.drug,
                effect=pair.effect,
                confidence=pair.confidence,
                actuality="actual" if pair.effect.asserted else "potential",
                model_name=model_name,
                model_version=model_version,
                detected_at=published_at,
            )
            for pair in annotations.ade_pairs
        ]
        bundle = (
            findings_bundle(note, extraction, published_at)
            if self.topics.fhir is not None
            else None
        )
        reason = self.sampler.choose(note.note_id, annotations)
        request = (
            TeacherRequest(note=note, student=extraction, reason=reason)
            if reason is not None
            else None
        )
        # Every message is built before any is sent: an error above dead-letters the note
        # with none of its outputs published, so it still has exactly one outcome.
        key = note.note_id
        for ade in ades:
            await send(self.topics.ade, ade, key)
        await send(self.topics.entities, extraction, key)
        if bundle is not None:
            await send(self.topics.fhir, bundle, key)
        if request is not None:
            await send(self.topics.teacher_requests, request, key)
            metrics.SAMPLES_SENT.labels(reason=reason.value).inc()
        metrics.NOTES_OUT.inc()
        metrics.ADE_PAIRS.inc(len(annotations.ade_pairs))
        for entity in annotations.entities:
            metrics.ENTITIES.labels(type=entity.type.value).inc()
        metrics.END_TO_END_LATENCY.observe(end_to_end)

    async def dead_letter(self, event: EventT, rejection: NoteRejected) -> None:
        await send_dead_letter(self.topics, event, rejection, self.worker.dead_letter_payload_bytes)


async def send_dead_letter(
    topics: OutputTopics, event: EventT, rejection: NoteRejected, max_payload_bytes: int
) -> None:
    message = event.message
    letter = DeadLetter.keeping(
        event.value,
        max_payload_bytes,
        reason=rejection.reason,
        error=rejection.error,
        source_topic=message.topic,
        source_partition=message.partition,
        source_offset=message.offset,
        note_id=rejection.note_id,
    )
    await send(topics.dead_letters, letter, rejection.note_id or None)
    metrics.DEAD_LETTERS.labels(reason=rejection.reason.value).inc()
    log.warning("dead-lettered %s: %s", _where(event), rejection.reason.value)


def _requests(texts: list[str], most_texts: int, most_chars: int) -> list[list[str]]:
    """Texts in order, packed into requests (one text at least in each)."""
    requests: list[list[str]] = [[]]
    chars = 0
    for text in texts:
        if requests[-1] and (len(requests[-1]) == most_texts or chars + len(text) > most_chars):
            requests.append([])
            chars = 0
        requests[-1].append(text)
        chars += len(text)
    return [request for request in requests if request]


def _where(event: EventT) -> str:
    """topic[partition]@offset: where a message is, never what it says."""
    message = event.message
    return f"{message.topic}[{message.partition}]@{message.offset}"


def _cause(error: Exception) -> str:
    """A failure's kind, never its message: Triton's messages may echo the request."""
    if isinstance(error, InferenceServerException):
        return f"Triton status {error.status()}"
    return type(error).__name__
