"""Training the student, from a teacher's labels (distillation) or from gold (supervised).

The pipeline follows the transformers token-classification example: read labelled texts,
align labels to window tokens, train with a dev set and early stopping, save the weights, the
tokenizer, the label list and an ONNX export in one run folder.
"""

import copy
import json
import random
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import AutoTokenizer, PreTrainedModel, get_linear_schedule_with_warmup
from transformers.trainer_pt_utils import get_length_grouped_indices

from models.card import StudentCard
from models.confidence import confidence_histogram
from models.decoding import decode_windows, softmax
from models.export import export_student
from models.labels import IGNORE_INDEX, LABEL_TO_ID, LABELS, OUTSIDE, EntityType
from models.network import build_student, load_student
from models.settings import StudentSettings
from models.spans import Annotations, Entity
from models.windows import Windows, encode_windows, label_windows
from trainer.corpora import Document
from trainer.evaluate import MICRO, OUR_TYPES, evaluate
from trainer.guideline import one_drug_per_mention
from trainer.settings import TrainingSettings

WEIGHTS_DIR = "weights"


class EpochMetrics(BaseModel):
    epoch: int
    train_loss: float
    dev_strict_micro_f1: float | None
    seconds: float


class RunMetrics(BaseModel):
    """metrics.json of a run folder."""

    source: str
    train_documents: int
    train_windows: int
    dev_documents: int
    best_epoch: int
    epochs: list[EpochMetrics]
    train_seconds: float
    device: str


def _training_device() -> torch.device:
    """CUDA where present (a lent GPU), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_student(
    train: list[Document],
    output_dir: Path,
    source: str,
    dev: list[Document] | None = None,
    dev_types: dict[EntityType, str] = OUR_TYPES,
    student: StudentSettings | None = None,
    training: TrainingSettings | None = None,
) -> RunMetrics:
    """Train on labelled documents; keep the epoch best on dev (strict micro F1), export it.

    `source` names where the labels came from (a teacher's name, or "gold").
    """
    student = student or StudentSettings()
    training = training or TrainingSettings()
    labelled = [doc for doc in train if doc.labels is not None]
    if not labelled:
        raise ValueError("no labelled documents to train on")
    if training.one_drug_per_mention:
        labelled = [_one_drug_per_mention(doc) for doc in labelled]
    _seed_everything(training.seed)
    device = _training_device()
    started = time.perf_counter()

    tokenizer = AutoTokenizer.from_pretrained(student.backbone)
    windows = encode_windows(
        tokenizer, [doc.text for doc in labelled], student.max_length, student.stride
    )
    input_ids = torch.tensor(windows.input_ids)
    attention_mask = torch.tensor(windows.attention_mask)
    targets = torch.tensor(label_windows(windows, [_spans(doc.labels) for doc in labelled]))
    distributions = _target_distributions(windows, labelled, targets, training.soft_targets)

    model = build_student(student.backbone).to(device)
    class_weights = _class_weights(targets, training.class_weight_power).to(device)
    # The fused kernel: on CPU the default AdamW step took half of each training step.
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=training.learning_rate,
        weight_decay=training.weight_decay,
        fused=True,
    )
    steps_per_epoch = -(-len(input_ids) // training.batch_size)
    total_steps = steps_per_epoch * training.epochs
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(training.warmup_ratio * total_steps), total_steps
    )
    generator = torch.Generator().manual_seed(training.seed)

    history: list[EpochMetrics] = []
    best_f1, best_epoch, best_state, stale = -1.0, 0, None, 0
    with Progress(
        TextColumn("[bold]training[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task("", total=total_steps)
        for epoch in range(1, training.epochs + 1):
            epoch_started = time.perf_counter()
            model.train()
            order = _epoch_order(attention_mask, training, generator)
            losses = []
            for step in range(steps_per_epoch):
                batch = order[step * training.batch_size : (step + 1) * training.batch_size]
                # Trim padding to the longest window in this batch.
                length = int(attention_mask[batch].sum(dim=1).max())
                logits = model(
                    input_ids=input_ids[batch, :length].to(device),
                    attention_mask=attention_mask[batch, :length].to(device),
                ).logits
                target = _sample_outside(targets[batch, :length], training.o_token_keep, generator)
                loss = _loss(
                    logits,
                    distributions[batch, :length].to(device),
                    ignored=(target == IGNORE_INDEX).to(device),
                    class_weights=class_weights,
                    training=training,
                )
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append(loss.item())
                progress.update(task, advance=1, description=f"epoch {epoch} loss {loss:.3f}")

            dev_f1 = None
            if dev:
                predicted = predict(model, tokenizer, [d.text for d in dev], student, device)
                report = evaluate([d.labels for d in dev], predicted, dev_types)
                dev_f1 = report.strict[MICRO].f1
            history.append(
                EpochMetrics(
                    epoch=epoch,
                    train_loss=round(float(np.mean(losses)), 4),
                    dev_strict_micro_f1=dev_f1,
                    seconds=round(time.perf_counter() - epoch_started, 1),
                )
            )
            score = dev_f1 if dev_f1 is not None else float(epoch)
            if score > best_f1:
                best_f1, best_epoch, stale = score, epoch, 0
                best_state = copy.deepcopy({k: v.cpu() for k, v in model.state_dict().items()})
            else:
                stale += 1
                if stale >= training.patience:
                    break

    model.load_state_dict(best_state)
    reference_texts = [d.text for d in (dev or labelled[:200])]
    confidences = [
        entity.confidence
        for found in predict(model, tokenizer, reference_texts, student, device)
        for entity in found.entities
    ]
    card = StudentCard(
        name=f"student-{datetime.now(UTC):%Y%m%d%H%M%S}",
        backbone=student.backbone,
        max_length=student.max_length,
        stride=student.stride,
        created_at=datetime.now(UTC),
        teacher=source,
        confidence_reference=confidence_histogram(confidences),
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir / WEIGHTS_DIR)
    export_student(model, tokenizer, card, output_dir)
    metrics = RunMetrics(
        source=source,
        train_documents=len(labelled),
        train_windows=len(input_ids),
        dev_documents=len(dev or []),
        best_epoch=best_epoch,
        epochs=history,
        train_seconds=round(time.perf_counter() - started, 1),
        device=str(device),
    )
    (output_dir / "metrics.json").write_text(metrics.model_dump_json(indent=2) + "\n")
    (output_dir / "config.json").write_text(
        json.dumps({"student": student.model_dump(), "training": training.model_dump()}, indent=2)
        + "\n"
    )
    return metrics


def distil_student(
    documents: list[Document],
    output_dir: Path,
    source: str,
    dev: list[Document] | None = None,
    dev_types: dict[EntityType, str] = OUR_TYPES,
    student: StudentSettings | None = None,
    training: TrainingSettings | None = None,
) -> RunMetrics:
    """Train on a teacher's labels, then self-train (BOND, Liang et al. 2020, with hard labels).

    The teacher's misses are the student's misses too unless it gets to learn from what it
    generalises to: each round, the mentions the last student finds with confidence at or above
    the threshold where the teacher found nothing join the labels, and a fresh student trains on
    them. Early stopping uses the same dev set each round.
    """
    student = student or StudentSettings()
    training = training or TrainingSettings()
    metrics = train_student(documents, output_dir, source, dev, dev_types, student, training)
    device = _training_device()
    for _ in range(training.self_training_rounds):
        model = load_student(str(output_dir / WEIGHTS_DIR)).to(device)
        tokenizer = AutoTokenizer.from_pretrained(output_dir)
        found = predict(model, tokenizer, [d.text for d in documents], student, device)
        documents = [
            _with_confident_additions(doc, more.entities, training.self_training_threshold)
            for doc, more in zip(documents, found, strict=True)
        ]
        metrics = train_student(
            documents, output_dir, f"{source}+self-training", dev, dev_types, student, training
        )
    return metrics


def _one_drug_per_mention(document: Document) -> Document:
    readings = document.readings and [
        one_drug_per_mention(document.text, reading) for reading in document.readings
    ]
    labels = one_drug_per_mention(document.text, document.labels)
    return document.model_copy(update={"labels": labels, "readings": readings})


def _with_confident_additions(
    document: Document, found: list[Entity], threshold: float
) -> Document:
    labelled = document.labels.entities
    added = [
        e
        for e in found
        if e.confidence >= threshold
        and not any(e.start < other.end and other.start < e.end for other in labelled)
    ]

    def plus_added(labels: Annotations) -> Annotations:
        entities = sorted([*labels.entities, *added], key=lambda e: e.start)
        return labels.model_copy(update={"entities": entities})

    readings = document.readings and [plus_added(reading) for reading in document.readings]
    return document.model_copy(update={"labels": plus_added(document.labels), "readings": readings})


@torch.no_grad()
def predict(
    model: PreTrainedModel,
    tokenizer,
    texts: list[str],
    student: StudentSettings,
    device: torch.device,
    batch_size: int = 32,
) -> list[Annotations]:
    """The torch twin of OnnxStudent.extract, for scoring during training."""
    model.eval()
    windows: Windows = encode_windows(tokenizer, texts, student.max_length, student.stride)
    input_ids = torch.tensor(windows.input_ids)
    attention_mask = torch.tensor(windows.attention_mask)
    chunks = []
    for start in range(0, len(input_ids), batch_size):
        chunk = slice(start, start + batch_size)
        logits = model(
            input_ids=input_ids[chunk].to(device), attention_mask=attention_mask[chunk].to(device)
        ).logits
        chunks.append(logits.float().cpu().numpy())
    return decode_windows(texts, windows, softmax(np.concatenate(chunks)))


def _epoch_order(
    attention_mask: torch.Tensor, training: TrainingSettings, generator: torch.Generator
) -> torch.Tensor:
    """A fresh random order of the windows, grouped by length when the settings say so."""
    if not training.group_by_length:
        return torch.randperm(len(attention_mask), generator=generator)
    lengths = attention_mask.sum(dim=1).tolist()
    return torch.tensor(
        get_length_grouped_indices(lengths, training.batch_size, generator=generator)
    )


def _spans(labels: Annotations) -> list[tuple[int, int, str]]:
    return [(e.start, e.end, e.type.value) for e in labels.entities]


def _target_distributions(
    windows: Windows, documents: list[Document], targets: torch.Tensor, soft: bool
) -> torch.Tensor:
    """Per window token, a distribution over LABELS: the one-hot of `targets`, or with `soft`
    and documents that keep several teachers' readings, the share of readings per label."""
    one_hot = torch.nn.functional.one_hot(targets.clamp(min=0), len(LABELS)).float()
    if not soft or all(doc.readings is None for doc in documents):
        return one_hot
    counts = {len(doc.readings or [doc.labels]) for doc in documents}
    if len(counts) > 1:
        raise ValueError(f"soft targets need the same number of readings per note, not {counts}")
    readers = counts.pop()
    shares = torch.zeros_like(one_hot)
    for reader in range(readers):
        spans = [_spans((doc.readings or [doc.labels])[reader]) for doc in documents]
        labels = torch.tensor(label_windows(windows, spans)).clamp(min=0)
        shares += torch.nn.functional.one_hot(labels, len(LABELS)).float() / readers
    return shares


def _loss(
    logits: torch.Tensor,
    distributions: torch.Tensor,
    *,
    ignored: torch.Tensor,
    class_weights: torch.Tensor,
    training: TrainingSettings,
) -> torch.Tensor:
    """Class-weighted mean over the tokens that count of CE or GCE against target
    distributions; for one-hot targets, CE is what torch's CrossEntropyLoss(weight=) gives."""
    kept = ~ignored
    weighted = distributions[kept] * class_weights
    if training.loss == "generalised_cross_entropy":
        per_label = (1 - logits[kept].softmax(-1) ** training.gce_q) / training.gce_q
    else:
        per_label = -logits[kept].log_softmax(-1)
    return (weighted * per_label).sum() / weighted.sum().clamp(min=torch.finfo(torch.float).tiny)


def _sample_outside(target: torch.Tensor, keep: float, generator: torch.Generator) -> torch.Tensor:
    """The batch's targets with all but a random share `keep` of O tokens ignored."""
    if keep >= 1:
        return target
    dropped = (target == LABEL_TO_ID[OUTSIDE]) & (
        torch.rand(target.shape, generator=generator) >= keep
    )
    return target.masked_fill(dropped, IGNORE_INDEX)


def _class_weights(targets: torch.Tensor, power: float) -> torch.Tensor:
    """(frequency of the most common label / frequency of this label) ** power, so rare
    entity labels are not drowned by O; labels never seen get the largest weight."""
    counts = Counter(targets[targets != IGNORE_INDEX].tolist())
    most = max(counts.values())
    rarest = min(counts.values())
    return torch.tensor(
        [(most / counts.get(label, rarest)) ** power for label in range(len(LABELS))],
        dtype=torch.float,
    )


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
