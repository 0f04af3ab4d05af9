"""Retraining from the label store, and promotion only when the candidate is no worse.

A candidate trains on the stored teacher labels (a held-out part, chosen by note_id hash, is
kept aside). Candidate and serving version are scored on that held-out part against the
teacher; the candidate is promoted only if no type loses more than the tolerance. Promotion
writes the next version and has Triton load it (model control API), with no restart of
workers or broker. Rollback retires the newest version and has Triton load the one before.
Every decision is logged and published.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from models.messages import Decision, ModelDecision, TeacherLabel
from models.onnx_student import OnnxStudent
from models.pairing import PairModel
from models.spans import Annotations
from streams.label_store import LabelStore
from streams.repository import ModelRepository, load_and_wait
from streams.sampling import in_slice
from streams.settings import KafkaSettings, RetrainSettings, RuntimeSettings, TritonSettings
from streams.topics import encode, producer
from trainer.corpora import Document
from trainer.distil import distil_student
from trainer.evaluate import OUR_TYPES, evaluate

log = logging.getLogger(__name__)


def _documents(labels: list[TeacherLabel]) -> list[Document]:
    return [Document(doc_id=x.note_id, text=x.text, labels=x.teacher) for x in labels]


def _f1(student_dir: Path, held_out: list[TeacherLabel]) -> dict[str, float]:
    predicted = OnnxStudent(student_dir).extract([x.text for x in held_out])
    gold: list[Annotations] = [x.teacher for x in held_out]
    return {label: s.f1 for label, s in evaluate(gold, predicted, OUR_TYPES).strict.items()}


def retrain(
    retraining: RetrainSettings,
    triton: TritonSettings,
    runtime: RuntimeSettings,
    publish: Callable[[ModelDecision], None],
) -> ModelDecision:
    labels = LabelStore(runtime.label_store, retraining.retention_days).all()
    held_out = [x for x in labels if in_slice(x.note_id, retraining.held_out_share)]
    train = [x for x in labels if not in_slice(x.note_id, retraining.held_out_share)]
    repository = ModelRepository.of(triton)
    existing = repository.versions()
    current = existing[-1] if existing else None
    base = {"current_version": current, "serving_version": current,
            "train_samples": len(train), "held_out_samples": len(held_out)}  # fmt: skip
    if len(train) < retraining.min_retrain_samples or not held_out:
        decision = ModelDecision(
            decision=Decision.REJECTED,
            reason=f"{len(train)} training and {len(held_out)} held-out samples; need "
            f"{retraining.min_retrain_samples} and 1 (CLINSTREAM_LOOP_MIN_RETRAIN_SAMPLES)",
            **base,
        )
        return _announce(decision, publish)

    run_dir = runtime.data_dir / "runs" / f"retrain-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    started = time.perf_counter()
    distil_student(_documents(train), run_dir, source=train[0].teacher_version)
    # Teacher labels of notes have no real pairs to learn from: the serving version's learned
    # pairing (`clinstream learn-pairs`) carries over to the candidate.
    if current is not None and (pairing := PairModel.load(repository.version_dir(current))):
        pairing.save(run_dir)
    log.info("candidate trained in %.0fs on %d samples", time.perf_counter() - started, len(train))
    candidate_f1 = _f1(run_dir, held_out)
    current_f1 = _f1(repository.version_dir(current), held_out) if current is not None else {}
    losses = {
        label: round(current_f1[label] - candidate_f1.get(label, 0.0), 4)
        for label in current_f1
        if current_f1[label] - candidate_f1.get(label, 0.0) > retraining.promotion_tolerance
    }
    figures = {**base, "current_f1": current_f1, "candidate_f1": candidate_f1,
               "tolerance": retraining.promotion_tolerance}  # fmt: skip
    if losses:
        decision = ModelDecision(
            decision=Decision.REJECTED,
            reason="candidate is worse beyond tolerance on " + ", ".join(
                f"{label} (-{loss:.3f})" for label, loss in sorted(losses.items())
            ),
            **figures,
        )  # fmt: skip
        return _announce(decision, publish)

    version = repository.publish(run_dir)
    load_and_wait(triton, runtime, version)
    figures["serving_version"] = version
    decision = ModelDecision(
        decision=Decision.PROMOTED,
        reason="candidate is no worse than the serving version on any type",
        candidate_version=version,
        **figures,
    )
    return _announce(decision, publish)


def rollback(
    triton: TritonSettings, runtime: RuntimeSettings, publish: Callable[[ModelDecision], None]
) -> ModelDecision:
    """Retire the newest version (kept under the data dir) and serve the one before it."""
    repository = ModelRepository.of(triton)
    existing = repository.versions()
    if len(existing) < 2:
        raise ValueError(f"nothing to roll back to: versions {existing} in {repository.model_dir}")
    newest, previous = existing[-1], existing[-2]
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    retired = runtime.data_dir / "retired" / f"{repository.name}-{newest}-{stamp}"
    repository.retire(newest, retired)
    load_and_wait(triton, runtime, previous)
    decision = ModelDecision(
        decision=Decision.ROLLED_BACK,
        reason=f"version {newest} retired to {retired}",
        current_version=newest,
        serving_version=previous,
    )
    return _announce(decision, publish)


def publish_decision(decision: ModelDecision, kafka: KafkaSettings | None = None) -> None:
    """To the decisions topic, so workers count it and operators see it; through the same
    connection options (TLS, SASL) as every other client."""
    kafka = kafka or KafkaSettings()

    async def publish() -> None:
        decisions = producer(kafka)
        await decisions.start()
        try:
            await decisions.send_and_wait(kafka.decisions_topic, encode(decision))
        finally:
            await decisions.stop()

    asyncio.run(publish())


def _announce(decision: ModelDecision, publish: Callable[[ModelDecision], None]) -> ModelDecision:
    log.info("model decision: %s", decision.model_dump_json())
    publish(decision)
    return decision
