"""The Faust app: the topics clinstream reads and writes, and the flows between them.

clinical.notes --extract_notes--> Triton student --> clinical.entities  (one per note)
                                                 \-> clinical.ade       (one per pair)
               (unparseable or failed)           --> clinical.notes.dlq
"""

import faust
from prometheus_client import start_http_server

from streams.extraction import OutputTopics, process_batch
from streams.settings import KafkaSettings, RuntimeSettings, TritonSettings, WorkerSettings
from streams.triton_client import TritonStudent

kafka = KafkaSettings()
triton = TritonSettings()
worker = WorkerSettings()
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
outputs = OutputTopics(
    entities=app.topic(kafka.entities_topic, **_raw),
    ade=app.topic(kafka.ade_topic, **_raw),
    dead_letters=app.topic(kafka.dead_letter_topic, **_raw),
)


@app.agent(notes_topic)
async def extract_notes(stream: faust.StreamT) -> None:
    """Notes, in batches, through the Triton-served student, to entity and ADE topics."""
    student = TritonStudent(triton)
    async for events in stream.take_events(worker.batch_size, within=worker.batch_within_s):
        await process_batch(events, student, outputs, worker.max_note_chars, triton.model_name)


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
