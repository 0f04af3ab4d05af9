"""What every accuracy benchmark shares: resuming a run cut short, and the recipe and device a
table's footer names."""

import json
from collections.abc import Callable
from pathlib import Path

import torch

from models.backbones import SPLIT_PACKAGES
from models.settings import DEFAULT_BACKBONE, StudentSettings
from trainer.guideline import guideline_rules
from trainer.settings import TrainingSettings
from trainer.train import RunMetrics

FINISHED_FILE = "bench-finished.json"


def trained(
    run: Path,
    resume: bool,
    train: Callable[[], RunMetrics],
    training: TrainingSettings | None = None,
    student: StudentSettings | None = None,
) -> RunMetrics:
    """Train into `run` (with `training` and `student`, unset: the settings'); with `resume`,
    keep the student an earlier bench finished there with the same settings, so a benchmark cut
    short (hours of training on CPU) goes on from there."""
    training = training or TrainingSettings()
    student = student or StudentSettings()
    settings = {"student": student.model_dump(mode="json"),
                "training": training.model_dump(mode="json")}  # fmt: skip
    finished = run / FINISHED_FILE
    if resume and finished.exists():
        saved = json.loads(finished.read_text())
        if saved["settings"] == settings:
            return RunMetrics.model_validate(saved["metrics"])
    metrics = train()
    finished.write_text(
        json.dumps({"settings": settings, "metrics": metrics.model_dump(mode="json")}, indent=2)
    )
    return metrics


def recipe(training: TrainingSettings, student: StudentSettings) -> str:
    """The training settings and backbone a table's figures depend on, for its footer."""
    if student.backbone == DEFAULT_BACKBONE:
        backbone = "MiniLM-L6 (the default)"
    elif Path(student.backbone).name in SPLIT_PACKAGES:  # a packaged one, joined in the cache
        backbone = Path(student.backbone).name
    else:
        backbone = student.backbone
    targets = "soft targets" if training.soft_targets else "hard targets"
    head = f"on (loss weight {training.sentence_loss_weight})" if training.sentence_head else "off"
    ade = (
        "ADE labels only where the teacher names a drug"
        if training.ade_needs_drug
        else "all ADE labels"
    )
    guideline = list(guideline_rules(training))
    split = f"teacher labels split ({', '.join(guideline)})" if guideline else "labels as given"
    return (
        f"at most {training.epochs} epochs, batch {training.batch_size}, learning rate "
        f"{training.learning_rate}, {training.loss.replace('_', ' ')} on {targets}, class "
        f"weight power {training.class_weight_power}, {training.self_training_rounds} "
        f"self-training rounds, O-token keep {training.o_token_keep}, "
        f"{training.label_error_folds} label-error folds, {ade}, {split}, sentence head {head}, "
        f"backbone {backbone}"
    )


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name()
    return f"CPU, {torch.get_num_threads()} threads"
