"""How the label store's writes cost as it ages: one `add` on an empty store and on one holding
`rows` samples spread over the retention period (the worker writes one per teacher label)."""

import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel

from models.messages import SampleReason, TeacherLabel
from models.spans import Annotations
from streams.label_store import LabelStore
from streams.ops.demo_corpus import demo_notes


class LabelStoreSpeed(BaseModel):
    rows: int
    retention_days: int
    add_ms_empty: float  # median of `samples` adds
    add_ms_full: float
    ratio: float


def run_label_store_benchmark(
    directory: Path, rows: int, retention_days: int = 180, samples: int = 200
) -> LabelStoreSpeed:
    path = directory / "labels.sqlite"
    path.unlink(missing_ok=True)
    store = LabelStore(path, retention_days)
    labels = [_label(i) for i in range(samples)]
    empty = _median_add_ms(store, labels)
    _fill(path, labels[0], rows, retention_days)
    full = _median_add_ms(store, [_label(rows + i) for i in range(samples)])
    return LabelStoreSpeed(rows=rows, retention_days=retention_days, add_ms_empty=empty,
                           add_ms_full=full, ratio=round(full / empty, 2))  # fmt: skip


def _label(i: int) -> TeacherLabel:
    note = demo_notes(1, seed=i % 50)[0]
    empty = Annotations(entities=[], ade_pairs=[])
    return TeacherLabel(
        note_id=f"bench-{i}", patient_id=f"p-{i % 5000}", text=note.text,
        reason=SampleReason.RANDOM, teacher_name="lexicon", teacher_version="bench",
        teacher=empty, student=empty, student_model_version="1", teacher_seconds=0.1,
    )  # fmt: skip


def _median_add_ms(store: LabelStore, labels: list[TeacherLabel]) -> float:
    times = []
    for label in labels:
        started = time.perf_counter()
        store.add(label)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def _fill(path: Path, template: TeacherLabel, rows: int, retention_days: int) -> None:
    """`rows` samples evenly over the retention period, written in one transaction."""
    now = datetime.now(UTC)
    body = template.model_dump_json()
    step = timedelta(days=retention_days) / max(1, rows)
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT OR REPLACE INTO labels (note_id, patient_id, labelled_at, label)"
            " VALUES (?, ?, ?, ?)",
            ((f"old-{i}", f"p-{i % 5000}", (now - step * (i + 1)).isoformat(), body)
             for i in range(rows)),
        )  # fmt: skip
