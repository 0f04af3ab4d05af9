"""Training the student, from a teacher's labels (distillation) or from gold (supervised).

The pipeline follows the transformers token-classification example: read labelled texts,
align labels to window tokens, train with a dev set and early stopping, save the weights, the
tokenizer, the label list and an ONNX export in one run folder.

The three stages stay in one module (some 320 lines) so that they read in the order they run.
"""

import copy
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import (
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    get_linear_schedule_with_warmup,
)
from transformers.trainer_pt_utils import get_length_grouped_indices

from models.card import StudentCard
from models.confidence import confidence_histogram
from models.decoding import decode_windows, output_probabilities
from models.export import export_student
from models.labels import IGNORE_INDEX, LABELS, EntityType
from models.network import build_student
from models.settings import StudentSettings
from models.spans import Annotations
from models.windows import Windows, encode_windows, label_windows
from trainer.corpora import Document
from trainer.evaluate import MICRO, OUR_TYPES, evaluate
from trainer.guideline import to_guideline
from trainer.sentence_gate import operating_point, sentence_loss, sentence_targets
from trainer.settings import TrainingSettings
from trainer.targets import (
    class_weights,
    loss,
    sample_outside,
    spans,
    target_distributions,
)

WEIGHTS_DIR = "weights"


class EpochMetrics(BaseModel):
    epoch: int
    member: int = 0  # which student of a soup (TrainingSettings.soup_seeds); 0 without one
    train_loss: float  # of the token labels
    sentence_loss: float | None = None  # of the sentence head; runs before it had none
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


def training_device() -> torch.device:
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

    `source` names where the labels came from (a teacher's name, or "gold"). The stages are
    the transformers example's: prepare the windows and targets, fit, save.
    """
    student = student or StudentSettings()
    training = training or TrainingSettings()
    labelled = [doc for doc in train if doc.labels is not None]
    if not labelled:
        raise ValueError("no labelled documents to train on")
    labelled = [to_guideline(doc, training) for doc in labelled]
    dev = dev and [to_guideline(doc, training) for doc in dev]
    started = time.perf_counter()
    fitted = fit_model(labelled, dev, dev_types, student, training)
    device = training_device()
    reference = dev or labelled[:200]
    _save(fitted.model, fitted.tokenizer, output_dir, source, reference, student, device)
    metrics = RunMetrics(
        source=source,
        train_documents=len(labelled),
        train_windows=fitted.windows,
        dev_documents=len(dev or []),
        best_epoch=fitted.best_epoch,
        epochs=fitted.epochs,
        train_seconds=round(time.perf_counter() - started, 1),
        device=str(device),
    )
    (output_dir / "metrics.json").write_text(metrics.model_dump_json(indent=2) + "\n")
    (output_dir / "config.json").write_text(
        json.dumps({"student": student.model_dump(), "training": training.model_dump()}, indent=2)
        + "\n"
    )
    return metrics


@dataclass
class Fitted:
    """A student fitted in memory, and how its training went."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    epochs: list[EpochMetrics]  # every student's, in a soup
    best_epoch: int  # the first student's
    windows: int  # training windows


def fit_model(
    labelled: list[Document],
    dev: list[Document] | None,
    dev_types: dict[EntityType, str],
    student: StudentSettings,
    training: TrainingSettings,
) -> Fitted:
    """Prepare the windows and targets, and fit; nothing is saved.

    With soup seeds, each further student starts from the same initialisation and sees the data
    in its own order; their weights are averaged. Students of different initial heads averaged
    worse than either (ADE Corpus dev, stop 40), so only the order differs.
    """
    device = training_device()
    data = _prepare(labelled, student, training)
    states: list[dict[str, torch.Tensor]] = []
    history: list[EpochMetrics] = []
    best_epochs: list[int] = []
    for member, order_seed in enumerate([training.seed, *training.soup_seeds]):
        _seed_everything(training.seed)
        model = build_student(student.backbone, training.sentence_head, student.layers).to(device)
        epochs, best_epoch = _fit(
            model, data, dev, dev_types, student, training, device, order_seed
        )
        history += [epoch.model_copy(update={"member": member}) for epoch in epochs]
        best_epochs.append(best_epoch)
        states.append({k: v.cpu() for k, v in model.state_dict().items()})
    model.load_state_dict({
        name: sum(state[name] for state in states) / len(states)
        if tensor.is_floating_point() else tensor
        for name, tensor in states[0].items()
    })  # fmt: skip
    return Fitted(model, data.tokenizer, history, best_epochs[0], len(data.input_ids))


@dataclass
class _TrainingData:
    """The labelled documents as window tensors: token ids, mask, and targets."""

    tokenizer: PreTrainedTokenizerBase
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    targets: torch.Tensor  # label id per token, IGNORE_INDEX where none counts
    distributions: torch.Tensor  # target distribution over LABELS per token
    sentences: torch.Tensor  # the sentence head's target per token (trainer/sentence_gate.py)


def _prepare(
    labelled: list[Document], student: StudentSettings, training: TrainingSettings
) -> _TrainingData:
    tokenizer = AutoTokenizer.from_pretrained(student.backbone)
    windows = encode_windows(
        tokenizer, [doc.text for doc in labelled], student.max_length, student.stride
    )
    targets = torch.tensor(label_windows(windows, [spans(doc.labels) for doc in labelled]))
    targets[_doubtful_tokens(windows, labelled)] = IGNORE_INDEX
    return _TrainingData(
        tokenizer=tokenizer,
        input_ids=torch.tensor(windows.input_ids),
        attention_mask=torch.tensor(windows.attention_mask),
        targets=targets,
        distributions=target_distributions(windows, labelled, targets, training.soft_targets),
        sentences=sentence_targets(windows, labelled),
    )


def _doubtful_tokens(windows: Windows, documents: list[Document]) -> torch.Tensor:
    """Per window token: does it start inside a word the document marks doubtful?"""
    return torch.tensor([
        [any(start <= offset < end for start, end in documents[note].doubtful)
         for offset, _end in offsets]
        for note, offsets in zip(windows.note_index, windows.offsets, strict=True)
    ])  # fmt: skip


def _fit(
    model: PreTrainedModel,
    data: _TrainingData,
    dev: list[Document] | None,
    dev_types: dict[EntityType, str],
    student: StudentSettings,
    training: TrainingSettings,
    device: torch.device,
    order_seed: int,
) -> tuple[list[EpochMetrics], int]:
    """The epoch loop with early stopping; leaves the best epoch's weights in `model`.
    `order_seed` draws the batches' order (and the O tokens sampled out)."""
    weights = class_weights(data.targets, training.class_weight_power).to(device)
    # The fused kernel: on CPU the default AdamW step took half of each training step.
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=training.learning_rate,
        weight_decay=training.weight_decay,
        fused=True,
    )
    steps_per_epoch = -(-len(data.input_ids) // training.batch_size)
    total_steps = steps_per_epoch * training.epochs
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(training.warmup_ratio * total_steps), total_steps
    )
    generator = torch.Generator().manual_seed(order_seed)
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
            order = _epoch_order(data.attention_mask, training, generator)
            losses = []
            for step in range(steps_per_epoch):
                batch = order[step * training.batch_size : (step + 1) * training.batch_size]
                # Trim padding to the longest window in this batch.
                length = int(data.attention_mask[batch].sum(dim=1).max())
                outputs = model(
                    input_ids=data.input_ids[batch, :length].to(device),
                    attention_mask=data.attention_mask[batch, :length].to(device),
                ).logits
                target = sample_outside(
                    data.targets[batch, :length], training.o_token_keep, generator
                )
                label_loss = loss(
                    outputs[..., : len(LABELS)],
                    data.distributions[batch, :length].to(device),
                    ignored=(target == IGNORE_INDEX).to(device),
                    class_weights=weights,
                    training=training,
                )
                head_loss = (
                    sentence_loss(outputs[..., -1], data.sentences[batch, :length].to(device))
                    if training.sentence_head
                    else torch.zeros(())
                )
                (label_loss + training.sentence_loss_weight * head_loss).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append((label_loss.item(), head_loss.item()))
                progress.update(task, advance=1, description=f"epoch {epoch} loss {label_loss:.3f}")

            dev_f1 = None
            if dev:
                predicted = predict(model, data.tokenizer, [d.text for d in dev], student, device)
                dev_f1 = evaluate([d.labels for d in dev], predicted, dev_types).strict[MICRO].f1
            history.append(
                EpochMetrics(
                    epoch=epoch,
                    train_loss=round(float(np.mean([x for x, _ in losses])), 4),
                    sentence_loss=round(float(np.mean([x for _, x in losses])), 4)
                    if training.sentence_head
                    else None,
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
    return history, best_epoch


def _save(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    output_dir: Path,
    source: str,
    reference: list[Document],
    student: StudentSettings,
    device: torch.device,
) -> None:
    """Weights, tokenizer and ONNX export, with a card holding what `reference` (held-out
    teacher labels) shows: the sentence head's operating point, and the drift reference (the
    confidences of the student's entities)."""
    texts = [d.text for d in reference]
    windows, probabilities = window_outputs(model, tokenizer, texts, student, device)
    headed = probabilities.shape[-1] > len(LABELS)
    threshold = operating_point(reference, windows, probabilities) if headed else None
    confidences = [
        entity.confidence
        for found in decode_windows(texts, windows, probabilities, ade_threshold=threshold)
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
        ade_sentence_threshold=threshold,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir / WEIGHTS_DIR)
    export_student(model, tokenizer, card, output_dir)


def predict(
    model: PreTrainedModel,
    tokenizer,
    texts: list[str],
    student: StudentSettings,
    device: torch.device,
) -> list[Annotations]:
    """The torch twin of OnnxStudent.extract, for scoring during training: nothing gated, as
    the operating point is chosen once training ends."""
    return decode_windows(texts, *window_outputs(model, tokenizer, texts, student, device))


@torch.no_grad()
def window_outputs(
    model: PreTrainedModel,
    tokenizer,
    texts: list[str],
    student: StudentSettings,
    device: torch.device,
    batch_size: int = 32,
) -> tuple[Windows, np.ndarray]:
    """The texts' windows and the network's output probabilities per window token."""
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
    return windows, output_probabilities(np.concatenate(chunks))


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


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
