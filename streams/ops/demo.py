"""`clinstream demo`: distil a student if none is served, bring the runtime up, stream notes.

Everything is real: the Tansu broker, tritonserver, the Faust worker. The notes are synthetic
(trainer/demo_corpus.py); two malformed messages show the dead-letter path.
"""

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime

import numpy as np
from rich.console import Console
from rich.table import Table

from models.messages import AdverseDrugEvent, ClinicalNote, DeadLetter, DriftReport, Extraction
from models.spans import Entity
from streams.ops.demo_corpus import demo_notes, long_demo_note, training_notes
from streams.ops.runtime import EmbeddedRuntime
from streams.repository import ModelRepository
from streams.settings import (
    DriftSettings,
    KafkaSettings,
    LoopSettings,
    RuntimeSettings,
    SamplingSettings,
    SignalSettings,
    TeacherCallSettings,
    TritonSettings,
)
from streams.signals import current_table
from streams.topics import consumer, encode, producer
from trainer.settings import TrainingSettings

_TRAIN_SEED = 7
_STREAM_SEED = 2026
_STREAM_NOTES = 24
_MALFORMED = (b'{"note_id": "broken-1", "text": ', b'{"note_id": "empty-1", "text": "   "}')
# The demo sends every note to the (free, offline) lexicon teacher to show the loop at once.
_DEMO_LOOP = LoopSettings(
    sampling=SamplingSettings(sample_rate=1.0),
    teacher=TeacherCallSettings(teacher="lexicon"),
    drift=DriftSettings(report_interval_s=2.0),
)


def ensure_student(console: Console, triton: TritonSettings, runtime: RuntimeSettings) -> int:
    """The newest served version; distils and publishes version 1 from the lexicon teacher
    when the repository has none."""
    repository = ModelRepository.of(triton)
    existing = repository.versions()
    if existing:
        return existing[-1]
    from trainer.corpora import Document
    from trainer.distil import distil_student
    from trainer.teachers.lexicon import LexiconTeacher

    training = TrainingSettings()
    console.print(
        f"[bold]No student in {triton.model_repository}[/]: the lexicon teacher labels "
        f"{training.demo_train_notes} synthetic notes (most under a header of invented names and "
        f"ids) and {training.demo_train_notes // 2} nursing notes, and a student is distilled."
    )
    notes = training_notes(training.demo_train_notes, seed=_TRAIN_SEED)
    with console.status("lexicon teacher labelling"):
        teacher = LexiconTeacher()
        documents = [
            Document(doc_id=note.note_id, text=note.text, labels=teacher.label(note.text))
            for note in notes
        ]
    run_dir = runtime.data_dir / "runs" / f"demo-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    started = time.perf_counter()
    distil_student(documents, run_dir, source=teacher.name)
    version = repository.publish(run_dir)
    console.print(
        f"Distilled in {time.perf_counter() - started:.0f}s; published as "
        f"{triton.model_name} version {version}."
    )
    return version


async def _stream(kafka: KafkaSettings, notes: list[ClinicalNote], timeout_s: float):
    """Publish notes and malformed messages; collect every output they cause."""
    outputs = consumer(
        kafka,
        kafka.entities_topic,
        kafka.ade_topic,
        kafka.dead_letter_topic,
        kafka.drift_topic,
        auto_offset_reset="earliest",
    )
    notes_in = producer(kafka)
    await outputs.start()
    await notes_in.start()
    extractions: dict[str, Extraction] = {}
    ades: list[AdverseDrugEvent] = []
    letters: list[DeadLetter] = []
    drift: DriftReport | None = None
    try:
        started, elapsed = time.perf_counter(), 0.0
        for note in notes:
            await notes_in.send(kafka.notes_topic, encode(note), key=note.note_id.encode())
        for payload in _MALFORMED:
            await notes_in.send(kafka.notes_topic, payload)
        await notes_in.flush()
        deadline = time.monotonic() + timeout_s
        # Done when every note is out and a drift report covers every sampled note.
        while (
            len(extractions) < len(notes)
            or len(letters) < len(_MALFORMED)
            or drift is None
            or drift.samples < len(notes)
        ) and time.monotonic() < deadline:
            batches = await outputs.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.topic == kafka.entities_topic:
                        extraction = Extraction.model_validate_json(record.value)
                        extractions[extraction.note_id] = extraction
                    elif record.topic == kafka.ade_topic:
                        ades.append(AdverseDrugEvent.model_validate_json(record.value))
                    elif record.topic == kafka.drift_topic:
                        drift = DriftReport.model_validate_json(record.value)
                    else:
                        letters.append(DeadLetter.model_validate_json(record.value))
            if len(extractions) == len(notes) and not elapsed:
                elapsed = time.perf_counter() - started
    finally:
        await notes_in.stop()
        await outputs.stop()
    return extractions, ades, letters, drift, elapsed or time.perf_counter() - started


def _print_note(console: Console, note: ClinicalNote, extraction: Extraction) -> None:
    table = Table(
        title=f"{note.note_id} ({note.note_type}, {len(note.text)} chars, "
        f"model v{extraction.model_version})",
        title_justify="left",
    )
    for column in ("type", "start", "end", "text", "conf.", "assertion", "section", "codes"):
        table.add_column(column)
    for entity in extraction.entities:
        table.add_row(
            entity.type.value, str(entity.start), str(entity.end), entity.text,
            f"{entity.confidence:.2f}", _assertion(entity), entity.section or "",
            " ".join(code.code for code in entity.codes),
        )  # fmt: skip
    console.print(table)
    for pair in extraction.ade_pairs:
        actuality = "" if pair.effect.asserted else " [yellow]potential[/]"
        console.print(
            f"  [bold red]ADE[/]{actuality} {pair.drug.text} -> {pair.effect.text} "
            f"(confidence {pair.confidence:.2f})"
        )


def _assertion(entity: Entity) -> str:
    flags = ("negated", "possible", "hypothetical", "historical", "family")
    return ", ".join(flag for flag in flags if getattr(entity, flag))


def run_demo(console: Console, timeout_s: float = 180.0) -> bool:
    """Returns True when every note came out as an Extraction or a dead letter."""
    kafka, triton, runtime = KafkaSettings(), TritonSettings(), RuntimeSettings()
    loop = _DEMO_LOOP
    ensure_student(console, triton, runtime)
    notes = [
        ClinicalNote(note_id=n.note_id, text=n.text, note_type=n.note_type, source="demo")
        for n in [*demo_notes(_STREAM_NOTES, seed=_STREAM_SEED), long_demo_note(_STREAM_SEED)]
    ]
    with (
        console.status("starting broker, tritonserver and worker"),
        EmbeddedRuntime(kafka, triton, runtime=runtime, loop=loop) as embedded,
    ):
        console.print(
            f"Runtime up: broker {kafka.bootstrap}, Triton {triton.grpc_url} (gRPC), "
            f"worker metrics :{embedded.worker.metrics_port}/metrics; logs in {runtime.log_dir}"
        )
        extractions, ades, letters, drift, elapsed = asyncio.run(_stream(kafka, notes, timeout_s))
        signal_table = asyncio.run(current_table(kafka, SignalSettings()))

    for note in notes:
        if note.note_id in extractions:
            _print_note(console, note, extractions[note.note_id])
    for letter in letters:
        console.print(
            f"[yellow]dead letter[/] {letter.reason.value}: {letter.error} "
            f"({letter.source_topic}[{letter.source_partition}]@{letter.source_offset})"
        )

    by_type = Counter(e.type.value for x in extractions.values() for e in x.entities)
    latencies = [x.timings.end_to_end_ms for x in extractions.values()]
    console.rule("summary")
    console.print(
        f"notes in: {len(notes) + len(_MALFORMED)}  extractions out: {len(extractions)}  "
        f"dead letters: {len(letters)}  ADE events: {len(ades)}"
    )
    console.print("entities by type: " + json.dumps(dict(sorted(by_type.items()))))
    if latencies:
        console.print(
            f"throughput: {len(extractions) / elapsed:.1f} notes/s  "
            f"end-to-end latency p50 {np.percentile(latencies, 50):.0f} ms, "
            f"p99 {np.percentile(latencies, 99):.0f} ms"
        )
    pairs = signal_table.rows()
    console.print(
        f"pharmacovigilance (clinstream signals): {signal_table.cases} distinct actual ADE "
        f"cases so far, {len(pairs)} drug-event pairs, {sum(p.signal for p in pairs)} signals "
        f"({' + '.join(signal_table.settings.require)})"
    )
    versions = sorted({x.model_version for x in extractions.values()})
    console.print(f"serving student version: {', '.join(versions)}")
    if drift is not None:
        agreement = {label: round(f1, 3) for label, f1 in drift.agreement_f1.items()}
        console.print(
            f"teacher slice: {drift.samples} notes sampled; student-vs-teacher agreement "
            f"(strict F1) {json.dumps(agreement)}; drift score {drift.drift_score:.3f} "
            f"(threshold {drift.threshold}), confidence PSI {drift.confidence_psi}"
        )
    return len(extractions) == len(notes) and len(letters) == len(_MALFORMED)
