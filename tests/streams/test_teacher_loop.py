"""The teacher slice end to end: a degraded student drifts, a retrain promotes a better one,
Triton serves it with no restart, and a worse candidate is rejected."""

import asyncio
import time
from pathlib import Path

import pytest
import tritonclient.http as triton_http

from models.messages import ClinicalNote, Decision, DriftReport
from models.pairing import PairModel
from models.settings import StudentSettings
from streams import topics
from streams.label_store import LabelStore
from streams.ops.demo_corpus import demo_notes
from streams.ops.promotion import retrain, rollback
from streams.repository import ModelRepository
from streams.settings import DriftSettings, LoopSettings, RetrainSettings, SamplingSettings
from tests.conftest import embedded_runtime
from tests.streams.kafka_helpers import exchange, worker_metrics
from trainer.corpora import Document
from trainer.settings import TrainingSettings
from trainer.train import train_student

pytestmark = pytest.mark.integration

LOOP = LoopSettings(
    sampling=SamplingSettings(sample_rate=1.0),
    drift=DriftSettings(report_interval_s=1.0, drift_window=100, drift_threshold=0.5),
    retraining=RetrainSettings(min_retrain_samples=10, held_out_share=0.3,
                               promotion_tolerance=0.02),
)  # fmt: skip
TINY = {"CLINSTREAM_STUDENT_MAX_LENGTH": "64", "CLINSTREAM_STUDENT_STRIDE": "16",
        "CLINSTREAM_TRAIN_EPOCHS": "30", "CLINSTREAM_TRAIN_BATCH_SIZE": "16",
        "CLINSTREAM_TRAIN_LEARNING_RATE": "2e-3", "CLINSTREAM_TRAIN_WARMUP_RATIO": "0"}  # fmt: skip


@pytest.fixture(scope="module")
def degraded_repository(tmp_path_factory, tiny_backbone, teacher) -> Path:
    """Version 1 learnt nothing: its answers are noise, far from the teacher's."""
    notes = demo_notes(4, seed=3, prefix="degraded")
    run = tmp_path_factory.mktemp("degraded-run")
    train_student(
        [Document(doc_id=n.note_id, text=n.text, labels=teacher.label(n.text)) for n in notes],
        run, "lexicon",
        student=StudentSettings(backbone=str(tiny_backbone), max_length=64, stride=16),
        training=TrainingSettings(epochs=1, learning_rate=1e-9),
    )  # fmt: skip
    repository = tmp_path_factory.mktemp("loop-repo")
    ModelRepository(repository, "student").publish(run)
    return repository


@pytest.fixture(scope="module")
def loop_runtime(tmp_path_factory, degraded_repository):
    with embedded_runtime(tmp_path_factory, degraded_repository, LOOP) as embedded:
        yield embedded


def notes(count: int, seed: int, prefix: str) -> list[ClinicalNote]:
    return [ClinicalNote(note_id=n.note_id, text=n.text) for n in demo_notes(count, seed, prefix)]


def wait_for(condition, what: str, timeout_s: float = 90.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


async def latest_drift_report(kafka) -> DriftReport:
    consumer = topics.consumer(kafka, kafka.drift_topic, 
                                auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    try:
        reports = []
        for records in (await consumer.getmany(timeout_ms=3000)).values():
            reports += [DriftReport.model_validate_json(r.value) for r in records]
    finally:
        await consumer.stop()
    return max(reports, key=lambda r: (r.samples, r.reported_at))


def metric(runtime, name: str, **labels) -> float:
    return worker_metrics(runtime).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_drift_retrain_promote_serve_and_reject(loop_runtime, tiny_backbone, monkeypatch):
    for key, value in {**TINY, "CLINSTREAM_STUDENT_BACKBONE": str(tiny_backbone)}.items():
        monkeypatch.setenv(key, value)
    kafka, triton, data = loop_runtime.kafka, loop_runtime.triton, loop_runtime.runtime
    first = notes(40, seed=21, prefix="loop")
    extractions, _, _ = await exchange(kafka, first, [], 0)
    assert {x.model_version for x in extractions.values()} == {"1"}

    # Every note is sampled; the teacher's labels reach the store and the agreement gauges.
    wait_for(lambda: metric(loop_runtime, "clinstream_teacher_samples_total", reason="random")
             >= len(first), "samples")  # fmt: skip
    wait_for(lambda: metric(loop_runtime, "clinstream_drift_score") > LOOP.drift.drift_threshold,
             "the drift gauge to cross the threshold")  # fmt: skip
    assert ("clinstream_agreement_f1", (("type", "micro"),)) in worker_metrics(loop_runtime)
    report = await latest_drift_report(kafka)
    assert report.drifted and report.model_versions == ["1"]
    assert report.teacher_entities_per_note["DRUG"] > 0
    # The store holds note text (PHI): readable by its user alone.
    assert data.label_store.stat().st_mode & 0o077 == 0

    # Retraining reads the store: wait until every note's label is in it, not only the few the
    # drift gauge needed (a race: the store held 3 of 40 once).
    store = LabelStore(data.label_store, LOOP.retraining.retention_days)
    wait_for(lambda: len(store.all()) >= len(first), "every label in the store")

    # The serving version pairs with a learned model; the candidate inherits it.
    pairing = PairModel(weights={"order=effect_first": 1.0}, bias=0.1, trained_on="made up")
    pairing.save(ModelRepository.of(triton).version_dir(1))
    publish = []
    decision = await asyncio.to_thread(retrain, LOOP.retraining, triton, data, publish.append)
    assert decision.decision == Decision.PROMOTED, decision.reason
    assert decision.candidate_version == 2 and ModelRepository.of(triton).versions() == [1, 2]
    assert PairModel.load(ModelRepository.of(triton).version_dir(2)) == pairing
    assert decision.candidate_f1["micro"] > decision.current_f1.get("micro", 0.0)
    client = triton_http.InferenceServerClient(f"{triton.host}:{triton.http_port}")
    assert client.is_model_ready(triton.model_name, "2")

    later = notes(5, seed=22, prefix="after")
    extractions, _, _ = await exchange(kafka, later, [], 0)
    assert {extractions[n.note_id].model_version for n in later} == {"2"}

    # A candidate made worse on purpose (it cannot learn) is rejected; v2 keeps serving.
    monkeypatch.setenv("CLINSTREAM_TRAIN_LEARNING_RATE", "1e-9")
    monkeypatch.setenv("CLINSTREAM_TRAIN_EPOCHS", "1")
    worse = await asyncio.to_thread(retrain, LOOP.retraining, triton, data, publish.append)
    assert worse.decision == Decision.REJECTED, worse.reason
    assert "worse" in worse.reason
    assert ModelRepository.of(triton).versions() == [1, 2]

    back = await asyncio.to_thread(rollback, triton, data, publish.append)
    assert (back.decision, back.serving_version) == (Decision.ROLLED_BACK, 1)
    assert ModelRepository.of(triton).versions() == [1]
    assert [d.decision for d in publish] == [Decision.PROMOTED, Decision.REJECTED,
                                             Decision.ROLLED_BACK]  # fmt: skip
