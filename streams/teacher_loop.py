"""The teacher slice in the stream: label sampled notes, watch agreement, trigger retraining.

The extraction path never waits on any of this: it only publishes TeacherRequests.
"""

import asyncio
import logging
import sqlite3
import sys
import time

from faust.types import EventT

from models.backoff import delays
from models.messages import (
    DeadLetterReason,
    ModelDecision,
    NoteRejected,
    TeacherLabel,
    TeacherRequest,
)
from streams import metrics
from streams.extraction import OutputTopics, send_dead_letter
from streams.label_store import LabelStore
from streams.settings import RetrainSettings, TeacherCallSettings
from streams.topics import send
from trainer.teachers import TeacherName, make_teacher
from trainer.teachers.base import Teacher

log = logging.getLogger(__name__)


class TeacherCaller:
    """Calls the configured teacher off the event loop, with a timeout and retries."""

    def __init__(self, settings: TeacherCallSettings) -> None:
        self.settings = settings
        self.teacher: Teacher = make_teacher(TeacherName(settings.teacher))

    async def label(self, request: TeacherRequest) -> TeacherLabel:
        waits = delays(1.0)
        for attempt in range(self.settings.teacher_retries + 1):
            started = time.perf_counter()
            cost_before = _cost(self.teacher)
            try:
                (annotations,) = await asyncio.wait_for(
                    asyncio.to_thread(self.teacher.label_batch, [request.note.text]),
                    self.settings.teacher_timeout_s,
                )
            except Exception as error:  # a teacher may fail in any way; all are retried
                if attempt == self.settings.teacher_retries:
                    raise
                log.warning(
                    "teacher %s failed (%s), retry %d", self.teacher.name, type(error).__name__,
                    attempt + 1,
                )  # fmt: skip
                await asyncio.sleep(next(waits))
                continue
            seconds = time.perf_counter() - started
            cost = max(0.0, _cost(self.teacher) - cost_before)
            metrics.TEACHER_LATENCY.observe(seconds)
            metrics.TEACHER_COST.inc(cost)
            return TeacherLabel(
                note_id=request.note.note_id,
                patient_id=request.note.patient_id,
                text=request.note.text,
                reason=request.reason,
                teacher_name=self.teacher.name,
                teacher_version=self.teacher.version,
                teacher=annotations,
                student=request.student_annotations(),
                student_model_version=request.student.model_version,
                teacher_seconds=round(seconds, 3),
                teacher_cost_usd=cost,
            )
        raise AssertionError("unreachable")


def _cost(teacher: Teacher) -> float:
    usage = getattr(teacher, "usage", None)
    return usage.cost_usd if usage is not None else 0.0


async def label_request(
    event: EventT,
    request: TeacherRequest,
    caller: TeacherCaller,
    labels_topic,
    topics: OutputTopics,
    max_payload_bytes: int,
    store: LabelStore,
) -> TeacherLabel | None:
    """One request -> a TeacherLabel, or a dead letter when the teacher keeps failing; None,
    with no teacher call, for a request the label store already answers (a replay after a
    crash: requests are idempotent by note and student version)."""
    note_id, version = request.note.note_id, request.student.model_version
    if await asyncio.to_thread(store.labelled, note_id, version):
        metrics.TEACHER_REPLAYS_SKIPPED.inc()
        return None
    try:
        label = await caller.label(request)
    except Exception as error:  # noqa: BLE001 (every teacher failure ends in the DLQ)
        metrics.TEACHER_FAILURES.inc()
        rejection = NoteRejected(
            DeadLetterReason.TEACHER_FAILED,
            f"teacher failed after retries: {type(error).__name__}",
            request.note.note_id,
        )
        await send_dead_letter(topics, event, rejection, max_payload_bytes)
        return None
    await send(labels_topic, label, label.note_id)
    return label


async def store_label(
    event: EventT,
    label: TeacherLabel,
    store: LabelStore,
    topics: OutputTopics,
    max_payload_bytes: int,
    attempts: int = 4,
) -> bool:
    """Into the label store, off the event loop (a disk write); retried with backoff, and a
    label the store keeps refusing (a full or broken disk) is dead-lettered and counted, so no
    label is lost without a trace. The agent goes on either way."""
    waits = delays(0.5)
    for attempt in range(1, attempts + 1):
        try:
            await asyncio.to_thread(store.add, label)
            return True
        except sqlite3.Error as error:
            log.warning("label store write failed (%s), attempt %d of %d",
                        type(error).__name__, attempt, attempts)  # fmt: skip
            if attempt < attempts:
                await asyncio.sleep(next(waits))
            failure = type(error).__name__
    metrics.LABEL_STORE_FAILURES.inc()
    rejection = NoteRejected(
        DeadLetterReason.LABEL_STORE_FAILED,
        f"the label store refused the label {attempts} times ({failure})",
        label.note_id,
    )
    await send_dead_letter(topics, event, rejection, max_payload_bytes)
    return False


class RetrainTrigger:
    """Starts `clinstream retrain` in a child process, one at a time, when due."""

    def __init__(self, settings: RetrainSettings) -> None:
        self.settings = settings
        self.new_samples = 0
        self.running: asyncio.subprocess.Process | None = None
        self.command = [sys.executable, "-m", "streams.ops.cli", "retrain"]

    def count(self) -> None:
        self.new_samples += 1

    async def maybe_start(self, drifted: bool) -> bool:
        if self.running is not None and self.running.returncode is None:
            return False
        due = (self.settings.retrain_every and self.new_samples >= self.settings.retrain_every) or (
            self.settings.retrain_on_drift and drifted
        )
        if not due:
            return False
        log.info("starting a retrain after %d new samples (drifted: %s)", self.new_samples, drifted)
        self.new_samples = 0
        self.running = await asyncio.create_subprocess_exec(*self.command)
        return True


def count_decision(decision: ModelDecision) -> None:
    metrics.RETRAINS.labels(outcome=decision.decision.value).inc()
