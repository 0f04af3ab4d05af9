"""The Faust app: the topics clinstream reads and writes, and the flows between them.

clinical.notes        --extract_notes--> Triton student --> clinical.entities  (one per note)
clinical.notes.hl7v2    (decoded by the topic's format)  |-> clinical.ade       (one per pair)
clinical.notes.fhir                                      |-> clinical.fhir      (opt-in Bundle)
                        (unreadable or failed)           |-> clinical.notes.dlq
                        (sampled)                        `-> clinical.teacher.requests
clinical.teacher.requests --label_samples--> teacher --> clinical.teacher.labels
clinical.teacher.labels --watch_agreement--> label store, rolling agreement
every report interval --report_drift--> clinical.drift (and a retrain when due)
clinical.model.decisions --count_decisions--> retrain metrics
clinical.ade --collect_cases--> clinical.ade.cases --count_signals--> clinical.ade.signals
"""

import asyncio
import logging

import faust
from aiohttp import web
from aiokafka.errors import KafkaError
from faust.types import EventT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from models.messages import (
    AdverseDrugEvent,
    M,
    ModelDecision,
    NoteRejected,
    TeacherLabel,
    TeacherRequest,
    decode_message,
)
from streams import metrics
from streams.drift import DriftMonitor
from streams.extraction import BatchProcessor, OutputTopics, send_dead_letter
from streams.label_store import LabelStore
from streams.quiet_logs import quiet_repeats
from streams.repository import ModelRepository
from streams.sampling import Sampler
from streams.settings import (
    KafkaSettings,
    LoopSettings,
    RuntimeSettings,
    SignalSettings,
    TritonSettings,
    WorkerSettings,
)
from streams.signals import SignalCounter, case_of, decoded_case
from streams.teacher_loop import (
    RetrainTrigger,
    TeacherCaller,
    count_decision,
    label_request,
    store_label,
)
from streams.topics import committed_offsets, declared_options, note_topics, send
from streams.triton_client import TritonStudent

log = logging.getLogger(__name__)
kafka = KafkaSettings()
triton = TritonSettings()
worker = WorkerSettings()
loop = LoopSettings()
runtime = RuntimeSettings()
signal_settings = SignalSettings()

app = faust.App(
    worker.app_id,
    broker=f"clinstream://{kafka.bootstrap}",  # Faust's Kafka transport: streams.transport
    broker_credentials=kafka.faust_credentials(),
    processing_guarantee=kafka.processing_guarantee,
    topic_partitions=kafka.partitions,
    store="memory://",
    datadir=str(runtime.data_dir / "faust"),
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    # A dead worker's partitions move to the others within the session timeout.
    broker_session_timeout=kafka.session_timeout_s,
    broker_heartbeat_interval=kafka.heartbeat_interval_s,
    broker_rebalance_timeout=kafka.session_timeout_s,
    # What a crash replays: at most this long of outcomes (at-least-once).
    broker_commit_interval=kafka.commit_interval_s,
    # A message up to the byte limit must be fetched to be dead-lettered at all; outputs carry
    # a note at most once more (a teacher request), with its entities.
    consumer_max_fetch_size=worker.max_message_bytes + 64 * 1024,
    producer_max_request_size=4 * worker.max_message_bytes,
)


def declare(*names: str) -> faust.TopicT:
    """A topic of streams.topics for Faust. Values stay raw bytes: parsing is ours, so a
    malformed message becomes a dead letter instead of a crash inside Faust's deserialiser."""
    options = declared_options(kafka, names[0]) if len(names) == 1 else {}
    return app.topic(
        *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
        **options,
    )  # fmt: skip


note_formats = note_topics(kafka)
# One stream over every notes topic; a message's topic tells its format.
notes_topic = declare(*note_formats)
teacher_labels_topic = declare(kafka.teacher_labels_topic)
drift_topic = declare(kafka.drift_topic)
decisions_topic = declare(kafka.decisions_topic)
ade_cases_topic = declare(kafka.ade_cases_topic)
ade_signals_topic = declare(kafka.ade_signals_topic)
outputs = OutputTopics(
    entities=declare(kafka.entities_topic),
    ade=declare(kafka.ade_topic),
    dead_letters=declare(kafka.dead_letter_topic),
    teacher_requests=declare(kafka.teacher_requests_topic),
    fhir=declare(kafka.fhir_topic) if worker.fhir_output else None,
)
sampler = Sampler(
    loop.sampling.sample_rate,
    loop.sampling.uncertainty_threshold,
    loop.sampling.max_samples_per_minute,
)
monitor = DriftMonitor(
    loop.drift.drift_window,
    loop.drift.drift_threshold,
    loop.drift.psi_threshold,
    ModelRepository.of(triton).confidence_reference,
)
label_store = LabelStore(runtime.label_store, loop.retraining.retention_days)
retrain_trigger = RetrainTrigger(loop.retraining)


@app.on_partitions_assigned.connect
async def count_assigned(assigned_app: faust.App, _assigned: set, **_kwargs) -> None:
    """How many notes partitions this worker owns (actives: standbys are not its to process);
    a worker with none is idle by design. Signal gauges only from the cases topic's owner."""
    actives = assigned_app.assignor.assigned_actives()
    metrics.ASSIGNED_PARTITIONS.set(sum(tp.topic in note_formats for tp in actives))
    if not any(tp.topic == kafka.ade_cases_topic for tp in actives):
        # Another worker counts the cases now: this one's figures would be stale.
        metrics.SIGNAL_CASES.set(0)
        metrics.SIGNALS_ACTIVE.set(0)


@app.agent(notes_topic, concurrency=worker.concurrency)
async def extract_notes(stream: faust.StreamT) -> None:
    """Notes, in batches, through the Triton-served student, to entity and ADE topics.

    Each of `concurrency` actors takes its own batches; a message's offset is committed only
    once every earlier one has its outcome (see streams.extraction), whichever actor has it."""
    processor = BatchProcessor(
        TritonStudent(triton), outputs, note_formats, worker, triton, sampler
    )
    await processor.start()
    async for events in stream.take_events(worker.batch_size, within=worker.batch_within_s):
        await processor.process(events)


async def decoded(event: EventT, model: type[M]) -> M | None:
    """One of clinstream's own messages, or None after dead-lettering what is not one."""
    try:
        return decode_message(event.value, model)
    except NoteRejected as rejection:
        await send_dead_letter(outputs, event, rejection, worker.dead_letter_payload_bytes)
        return None


@app.agent(outputs.teacher_requests, concurrency=loop.teacher.teacher_concurrency)
async def label_samples(stream: faust.StreamT) -> None:
    """Sampled notes to the teacher; its labels, beside the student's, to the labels topic."""
    # Off the event loop: loading a lexicon teacher takes seconds, and a blocked loop delays
    # the worker's group join and first output after every restart (8.6 s of 15, measured).
    caller = await asyncio.to_thread(TeacherCaller, loop.teacher)
    async for event in stream.events():
        if (request := await decoded(event, TeacherRequest)) is not None:
            await label_request(
                event, request, caller, teacher_labels_topic, outputs,
                worker.dead_letter_payload_bytes, label_store,
            )  # fmt: skip


@app.agent(teacher_labels_topic)
async def watch_agreement(stream: faust.StreamT) -> None:
    """Teacher labels into the label store and the rolling agreement window."""
    async for event in stream.events():
        if (label := await decoded(event, TeacherLabel)) is not None:
            await store_label(event, label, label_store, outputs, worker.dead_letter_payload_bytes)
            monitor.add(label)
            retrain_trigger.count()


@app.timer(loop.drift.report_interval_s)
async def report_drift() -> None:
    """The rolling drift report, to its topic and gauges; a retrain when one is due."""
    report = monitor.report()
    if report is not None:
        await send(drift_topic, report)
    await retrain_trigger.maybe_start(drifted=report is not None and report.drifted)


@app.agent(decisions_topic)
async def count_decisions(stream: faust.StreamT) -> None:
    """Retrain and rollback decisions, counted by outcome for SREs."""
    async for event in stream.events():
        if (decision := await decoded(event, ModelDecision)) is not None:
            count_decision(decision)


@app.agent(outputs.ade)
async def collect_cases(stream: faust.StreamT) -> None:
    """ADE events that happened, as cases keyed by their identity (see streams.signals)."""
    async for event in stream.events():
        ade = await decoded(event, AdverseDrugEvent)
        if ade is not None and (case := case_of(ade)) is not None:
            await send(ade_cases_topic, case, key=case.case_id)


@app.agent(ade_cases_topic)
async def count_signals(stream: faust.StreamT) -> None:
    """Cases into the 2x2 tables, a batch at a time; each pair that becomes or stops being a
    signal, to the signals topic."""
    counter = SignalCounter(kafka, signal_settings)
    async for events in stream.take_events(signal_settings.batch_size, within=1.0):
        records = [(event.message.offset, decoded_case(event.value)) for event in events]
        for change in await counter.apply(records):
            await send(ade_signals_topic, change, key=change.pair_id)


@app.timer(worker.lag_interval_s)
async def report_lag() -> None:
    """Consumer lag of every partition this worker owns, for the lag alert."""
    owned = [(tp.topic, tp.partition) for tp in app.consumer.assignment()]
    try:
        committed = await committed_offsets(kafka, worker.app_id, owned)
    except (KafkaError, OSError) as error:  # the broker away: no figure beats a wrong one
        log.warning("consumer lag not measured: %s", type(error).__name__)
        return
    metrics.CONSUMER_LAG.clear()  # partitions that moved away are another worker's to report
    for tp in app.consumer.assignment():
        end = app.consumer.highwater(tp)
        if end is not None:
            behind = max(end - committed.get((tp.topic, tp.partition), 0), 0)
            metrics.CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(behind)


async def serve_metrics_page(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def serve_liveness(_request: web.Request) -> web.Response:
    """Live while the event loop answers."""
    return web.json_response({"live": True})


async def serve_readiness(_request: web.Request) -> web.Response:
    """Ready unless holding notes for a dependency that is down (then 503, and which)."""
    down = metrics.dependencies_down()
    return web.json_response({"ready": not down, "waiting_for": down}, status=503 if down else 200)


@app.task
async def serve_http() -> None:
    """Prometheus metrics and health probes, up from the worker's start."""
    server = web.Application()
    server.router.add_get("/metrics", serve_metrics_page)
    server.router.add_get("/healthz", serve_liveness)
    server.router.add_get("/readyz", serve_readiness)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, worker.bind_host, worker.metrics_port).start()
    except OSError as error:
        raise SystemExit(
            f"cannot listen on {worker.bind_host}:{worker.metrics_port} ({error.strerror}); "
            "set CLINSTREAM_WORKER_METRICS_PORT or CLINSTREAM_WORKER_BIND_HOST"
        ) from None


def run_worker() -> None:
    """Run this app as a Faust worker in the foreground until SIGTERM or Ctrl-C."""
    quiet_repeats()
    faust.Worker(app, loglevel=worker.log_level).execute_from_commandline()
