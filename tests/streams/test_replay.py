"""What a crash replays, on the real stack: a worker SIGKILLed before it committed anything
re-publishes its outcomes (at-least-once), but calls the teacher again for no note whose label
the label store already holds."""

import asyncio
import os
import signal
import time
from collections import Counter

import pytest

from models.messages import ClinicalNote, TeacherLabel
from streams import topics
from streams.label_store import LabelStore
from streams.ops.demo_corpus import demo_notes
from streams.settings import LoopSettings, SamplingSettings
from tests.conftest import embedded_runtime
from tests.streams.kafka_helpers import Outcomes, produce, worker_metrics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def uncommitted(tmp_path_factory, model_repository):
    """Every note sampled; offsets committed only every 10 minutes, so a kill replays all."""
    embedded = embedded_runtime(
        tmp_path_factory, model_repository, LoopSettings(sampling=SamplingSettings(sample_rate=1))
    )
    embedded.kafka = embedded.kafka.model_copy(update={"commit_interval_s": 600})
    with embedded:
        yield embedded


async def labels_per_note(kafka) -> Counter:
    counts = Counter()
    for partition in range(kafka.partitions):
        async for record in topics.read_partition(kafka, kafka.teacher_labels_topic,
                                                  partition=partition):  # fmt: skip
            counts[TeacherLabel.model_validate_json(record.value).note_id] += 1
    return counts


async def test_a_replay_after_a_kill_calls_the_teacher_for_no_labelled_note(uncommitted):
    kafka = uncommitted.kafka
    notes = [ClinicalNote(note_id=n.note_id, text=n.text) for n in demo_notes(12, 31, "replay")]
    records = [(n.note_id.encode(), n.model_dump_json().encode()) for n in notes]
    store = LabelStore(uncommitted.runtime.label_store, retention_days=30)
    async with Outcomes(kafka) as outcomes:
        where = await produce(kafka, records)
        await outcomes.wait_for(where, timeout_s=180)
        deadline = time.monotonic() + 120
        while not all(store.labelled(n.note_id, "1") for n in notes):
            assert time.monotonic() < deadline, "labels never stored"
            await asyncio.sleep(0.5)
        worker = next(s for s in uncommitted.services if s.name == "worker")
        os.kill(worker.process.pid, signal.SIGKILL)
        await asyncio.to_thread(worker.start, uncommitted.runtime.startup_timeout_s)
        replayed = time.monotonic() + 180
        while not all(len(outcomes.extractions[place]) >= 2 for place in where):
            assert time.monotonic() < replayed, "the notes were not replayed"
            await outcomes.read()
    metric = ("clinstream_teacher_replays_skipped_total", ())
    deadline = time.monotonic() + 60
    while worker_metrics(uncommitted)[metric] < len(notes):
        assert time.monotonic() < deadline, f"skipped {worker_metrics(uncommitted)[metric]}"
        await asyncio.sleep(0.5)
    counts = await labels_per_note(kafka)
    assert all(counts[n.note_id] == 1 for n in notes), counts
