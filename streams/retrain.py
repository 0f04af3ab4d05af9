"""Retraining from the label store, and promotion only when the candidate is no worse.

A candidate trains on the stored teacher labels (a held-out part, chosen by note_id hash, is
kept aside). Candidate and serving version are scored on that held-out part against the
teacher; the candidate is promoted only if no type loses more than the tolerance. Promotion
writes the next version and has Triton load it (model control API), with no restart of
workers or broker. Rollback retires the newest version and has Triton load the one before.
Every decision is logged and published.
"""

import logging
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import tritonclient.http as triton_http

from models.messages import Decision, ModelDecision, TeacherLabel
from models.onnx_student import OnnxStudent
from models.pairing import PairModel
from models.spans import Annotations
from streams.label_store import LabelStore
from streams.sampling import in_slice
from streams.settings import (
    TRITON_ADMIN_HEADER,
    LoopSettings,
    RuntimeSettings,
    TritonSettings,
    triton_admin_key,
)
from trainer.corpora import Document
from trainer.evaluate import OUR_TYPES, evaluate
from trainer.train import distil_student
from trainer.versions import MODEL_NAME, publish_version, versions

log = logging.getLogger(__name__)


def _documents(labels: list[TeacherLabel]) -> list[Document]:
    return [Document(doc_id=x.note_id, text=x.text, labels=x.teacher) for x in labels]


def _f1(student_dir: Path, held_out: list[TeacherLabel]) -> dict[str, float]:
    predicted = OnnxStudent(student_dir).extract([x.text for x in held_out])
    gold: list[Annotations] = [x.teacher for x in held_out]
    return {label: s.f1 for label, s in evaluate(gold, predicted, OUR_TYPES).strict.items()}


def retrain(
    loop: LoopSettings,
    triton: TritonSettings,
    runtime: RuntimeSettings,
    publish: Callable[[ModelDecision], None],
) -> ModelDecision:
    labels = LabelStore(runtime.label_store, loop.retention_days).all()
    held_out = [x for x in labels if in_slice(x.note_id, loop.held_out_share)]
    train = [x for x in labels if not in_slice(x.note_id, loop.held_out_share)]
    existing = versions(triton.model_repository)
    current = existing[-1] if existing else None
    base = {"current_version": current, "serving_version": current,
            "train_samples": len(train), "held_out_samples": len(held_out)}  # fmt: skip
    if len(train) < loop.min_retrain_samples or not held_out:
        decision = ModelDecision(
            decision=Decision.REJECTED,
            reason=f"{len(train)} training and {len(held_out)} held-out samples; need "
            f"{loop.min_retrain_samples} and 1 (CLINSTREAM_LOOP_MIN_RETRAIN_SAMPLES)",
            **base,
        )
        return _announce(decision, publish)

    run_dir = runtime.data_dir / "runs" / f"retrain-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    started = time.perf_counter()
    distil_student(_documents(train), run_dir, source=train[0].teacher_version)
    # Teacher labels of notes have no real pairs to learn from: the serving version's learned
    # pairing (`clinstream learn-pairs`) carries over to the candidate.
    if current is not None and (
        pairing := PairModel.load(triton.model_repository / MODEL_NAME / str(current))
    ):
        pairing.save(run_dir)
    log.info("candidate trained in %.0fs on %d samples", time.perf_counter() - started, len(train))
    candidate_f1 = _f1(run_dir, held_out)
    current_f1 = (
        _f1(triton.model_repository / MODEL_NAME / str(current), held_out)
        if current is not None
        else {}
    )
    losses = {
        label: round(current_f1[label] - candidate_f1.get(label, 0.0), 4)
        for label in current_f1
        if current_f1[label] - candidate_f1.get(label, 0.0) > loop.promotion_tolerance
    }
    figures = {**base, "current_f1": current_f1, "candidate_f1": candidate_f1,
               "tolerance": loop.promotion_tolerance}  # fmt: skip
    if losses:
        decision = ModelDecision(
            decision=Decision.REJECTED,
            reason="candidate is worse beyond tolerance on " + ", ".join(
                f"{label} (-{loss:.3f})" for label, loss in sorted(losses.items())
            ),
            **figures,
        )  # fmt: skip
        return _announce(decision, publish)

    version = publish_version(run_dir, triton.model_repository)
    _load_and_wait(triton, runtime, version)
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
    existing = versions(triton.model_repository)
    if len(existing) < 2:
        raise ValueError(
            f"nothing to roll back to: versions {existing} in {triton.model_repository}"
        )
    newest, previous = existing[-1], existing[-2]
    retired = (
        runtime.data_dir / "retired" / f"{MODEL_NAME}-{newest}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    )
    retired.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(triton.model_repository / MODEL_NAME / str(newest), retired)
    _load_and_wait(triton, runtime, previous)
    decision = ModelDecision(
        decision=Decision.ROLLED_BACK,
        reason=f"version {newest} retired to {retired}",
        current_version=newest,
        serving_version=previous,
    )
    return _announce(decision, publish)


def _load_and_wait(
    triton: TritonSettings, runtime: RuntimeSettings, version: int, timeout_s: float = 120.0
) -> None:
    """Triton reloads `student`; with its latest-version policy it then serves `version`.

    Loading is an admin API: the request carries the admin key.
    """
    client = triton_http.InferenceServerClient(f"{triton.host}:{triton.http_port}")
    client.load_model(
        triton.model_name, headers={TRITON_ADMIN_HEADER: triton_admin_key(triton, runtime)}
    )
    deadline = time.monotonic() + timeout_s
    while not client.is_model_ready(triton.model_name, str(version)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Triton did not serve {triton.model_name} v{version} in time")
        time.sleep(0.5)


def _announce(decision: ModelDecision, publish: Callable[[ModelDecision], None]) -> ModelDecision:
    log.info("model decision: %s", decision.model_dump_json())
    publish(decision)
    return decision
