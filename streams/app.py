"""The Faust app: the topics clinstream reads and writes, and the flows between them.

clinical.notes --extract_notes--> Triton student --> clinical.entities  (one per note)
                                                 |-> clinical.ade       (one per pair)
               (unparseable or failed)           |-> clinical.notes.dlq
               (sampled)                         `-> clinical.teacher.requests
clinical.teacher.requests --label_samples--> teacher --> clinical.teacher.labels
clinical.teacher.labels --watch_agreement--> label store, rolling agreement
every report interval --report_drift--> clinical.drift (and a retrain when due)
clinical.model.decisions --count_decisions--> retrain metrics
"""

import faust
from prometheus_client import start_http_server

from streams.drift import DriftMonitor
from streams.extraction import OutputTopics, process_batch
from streams.label_store import LabelStore
from streams.sampling import Sampler
from streams.schemas import TeacherLabel
from streams.settings import (
    KafkaSettings,
    LoopSettings,
    RuntimeSettings,
    TritonSettings,
    WorkerSettings,
)
from streams.teacher_loop import (
    RetrainTrigger,
    TeacherCaller,
    confidence_reference,
    count_decision,
    label_request,
)
from streams.triton_client import TritonStudent

kafka = KafkaSettings()
triton = TritonSettings()
worker = WorkerSettings()
loop = LoopSettings()
runtime = RuntimeSettings()

app = faust.App(
    worker.app_id,
    broker=f"kafka://{kafka.bootstrap}",
    processing_guarantee=kafka.processing_guarantee,
    topic_partitions=kafka.partitions,
    store="memory://",
    datadir=str(runtime.data_dir / "faust"),
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
)

# Values stay raw bytes: parsing is ours, so a malformed message becomes a dead letter
# instead of a crash inside Faust's deserialiser.
_raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
notes_topic = app.topic(kafka.notes_topic, **_raw)
teacher_labels_topic = app.topic(kafka.teacher_labels_topic, **_raw)
drift_topic = app.topic(kafka.drift_topic, **_raw)
decisions_topic = app.topic(kafka.decisions_topic, **_raw)
outputs = OutputTopics(
    entities=app.topic(kafka.entities_topic, **_raw),
    ade=app.topic(kafka.ade_topic, **_raw),
    dead_letters=app.topic(kafka.dead_letter_topic, **_raw),
    teacher_requests=app.topic(kafka.teacher_requests_topic, **_raw),
)
sampler = Sampler(loop.sample_rate, loop.uncertainty_threshold, loop.max_samples_per_minute)
monitor = DriftMonitor(
    loop.drift_window,
    loop.drift_threshold,
    loop.psi_threshold,
    lambda version: confidence_reference(triton.model_repository, triton.model_name, version),
)
label_store = LabelStore(runtime.label_store, loop.retention_days)
retrain_trigger = RetrainTrigger(loop)


@app.agent(notes_topic)
async def extract_notes(stream: faust.StreamT) -> None:
    """Notes, in batches, through the Triton-served student, to entity and ADE topics."""
    student = TritonStudent(triton)
    async for events in stream.take_events(worker.batch_size, within=worker.batch_within_s):
        await process_batch(
            events, student, outputs, worker.max_note_chars, triton.model_name, sampler
        )


@app.agent(outputs.teacher_requests, concurrency=loop.teacher_concurrency)
async def label_samples(stream: faust.StreamT) -> None:
    """Sampled notes to the teacher; its labels, beside the student's, to the labels topic."""
    caller = TeacherCaller(loop)
    async for event in stream.events():
        await label_request(event, caller, teacher_labels_topic, outputs)


@app.agent(teacher_labels_topic)
async def watch_agreement(stream: faust.StreamT) -> None:
    """Teacher labels into the label store and the rolling agreement window."""
    async for event in stream.events():
        label = TeacherLabel.model_validate_json(event.value)
        label_store.add(label)
        monitor.add(label)
        retrain_trigger.count()


@app.timer(loop.report_interval_s)
async def report_drift() -> None:
    """The rolling drift report, to its topic and gauges; a retrain when one is due."""
    report = monitor.report()
    if report is not None:
        await drift_topic.send(value=report.model_dump_json().encode("utf-8"))
    await retrain_trigger.maybe_start(drifted=report is not None and report.drifted)


@app.agent(decisions_topic)
async def count_decisions(stream: faust.StreamT) -> None:
    """Retrain and rollback decisions, counted by outcome for SREs."""
    async for event in stream.events():
        count_decision(event)


@app.task
async def serve_metrics() -> None:
    """Prometheus endpoint, up from the worker's start."""
    try:
        start_http_server(worker.metrics_port)
    except OSError as error:
        raise SystemExit(
            f"metrics port {worker.metrics_port} is taken ({error.strerror}); "
            "set CLINSTREAM_WORKER_METRICS_PORT"
        ) from None


def run_worker() -> None:
    """Run this app as a Faust worker in the foreground until SIGTERM or Ctrl-C."""
    faust.Worker(app, loglevel=worker.log_level).execute_from_commandline()
