"""Prometheus metrics of the extraction worker.

Labels take bounded values only (entity types, reason codes); never note ids or text.
"""

from prometheus_client import Counter, Gauge, Histogram

from models.messages import DeadLetterReason

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

NOTES_IN = Counter("clinstream_notes_in_total", "Messages read from the notes topic.")
NOTES_OUT = Counter("clinstream_notes_out_total", "Extractions published.")
DEAD_LETTERS = Counter(
    "clinstream_dead_letters_total", "Messages sent to the dead-letter topic.", ["reason"]
)
# Every reason's series from 0 at start: a series first seen at 30 has no rate, and the
# dead-letter alert would never fire on a burst that came before the first scrape.
for _reason in DeadLetterReason:
    DEAD_LETTERS.labels(reason=_reason.value)
ENTITIES = Counter("clinstream_entities_total", "Entities extracted.", ["type"])
ADE_PAIRS = Counter("clinstream_ade_pairs_total", "Drug -> adverse-effect pairs published.")
END_TO_END_LATENCY = Histogram(
    "clinstream_end_to_end_latency_seconds",
    "From the note's Kafka timestamp to its Extraction being published.",
    buckets=_LATENCY_BUCKETS,
)
TRITON_LATENCY = Histogram(
    "clinstream_triton_latency_seconds", "One Triton request (a batch).", buckets=_LATENCY_BUCKETS
)
TRITON_ERRORS = Counter("clinstream_triton_errors_total", "Failed Triton requests (retried).")
BATCH_SIZE = Histogram(
    "clinstream_batch_size", "Notes per Triton request.", buckets=(1, 2, 4, 8, 16, 32, 64)
)
DEPENDENCY_UP = Gauge(
    "clinstream_dependency_up", "1 while a dependency answers, 0 during an outage.", ["dependency"]
)
_down: set[str] = set()


def dependency_state(dependency: str, up: bool) -> None:
    """Record a dependency going down or coming back: the gauge, and the worker's readiness."""
    DEPENDENCY_UP.labels(dependency=dependency).set(int(up))
    if up:
        _down.discard(dependency)
    else:
        _down.add(dependency)


def dependencies_down() -> list[str]:
    return sorted(_down)


PAUSED_SECONDS = Counter(
    "clinstream_paused_seconds_total",
    "Time spent holding notes while a dependency was down.",
    ["dependency"],
)
ASSIGNED_PARTITIONS = Gauge(
    "clinstream_assigned_partitions",
    "Partitions of the notes topics (JSON, HL7 v2, FHIR) this worker owns after a rebalance.",
)
SERVING_VERSION = Gauge(
    "clinstream_serving_model_version", "Student version that answered the last request."
)

# The teacher slice (types and reasons are bounded label values).
SAMPLES_SENT = Counter("clinstream_teacher_samples_total", "Notes sent to the teacher.", ["reason"])
TEACHER_LATENCY = Histogram(
    "clinstream_teacher_latency_seconds", "One teacher labelling.", buckets=_LATENCY_BUCKETS
)
TEACHER_COST = Counter("clinstream_teacher_cost_usd_total", "Teacher cost in US dollars.")
TEACHER_FAILURES = Counter(
    "clinstream_teacher_failures_total", "Teacher requests dead-lettered after retries."
)
LABEL_STORE_FAILURES = Counter(
    "clinstream_label_store_failures_total",
    "Teacher labels dead-lettered because the label store kept refusing them.",
)
AGREEMENT_F1 = Gauge(
    "clinstream_agreement_f1", "Rolling strict F1 of student against teacher.", ["type"]
)
ASSERTION_AGREEMENT_F1 = Gauge(
    "clinstream_assertion_agreement_f1",
    "Rolling F1 of the student's assertions (speculation, negation, family) against the "
    "teacher's, on the mentions both found.",
    ["assertion"],
)
ENTITIES_PER_NOTE = Gauge(
    "clinstream_entities_per_note", "Rolling entities per sampled note.", ["source", "type"]
)
DRIFT_SCORE = Gauge("clinstream_drift_score", "1 - rolling micro agreement F1.")
CONFIDENCE_PSI = Gauge(
    "clinstream_confidence_psi", "PSI of student confidences against the training reference."
)
RETRAINS = Counter("clinstream_retrains_total", "Retraining decisions.", ["outcome"])
SIGNAL_CASES = Gauge(
    "clinstream_signal_cases", "Distinct ADE cases in the signal table (in its window, if set)."
)
SIGNALS_ACTIVE = Gauge(
    "clinstream_signals_active", "Drug-event pairs that are disproportionality signals now."
)
SIGNAL_REBUILDS = Counter(
    "clinstream_signal_rebuilds_total",
    "Signal tables rebuilt from the cases topic (after a start, a crash or a rebalance).",
)
CONSUMER_LAG = Gauge(
    "clinstream_consumer_lag",
    "Records behind on a partition this worker owns: the end its fetches report (right on "
    "Tansu, whose ListOffsets is not) minus the group's committed offset.",
    ["topic", "partition"],
)
TEACHER_REPLAYS_SKIPPED = Counter(
    "clinstream_teacher_replays_skipped_total",
    "Teacher requests not sent: the label store already holds that note's label for that "
    "student version (a replay after a crash).",
)
