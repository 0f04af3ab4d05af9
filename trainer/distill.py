"""Distillation: train the student on a teacher's labels and export it as ONNX.

The pipeline follows the transformers token-classification example: read texts and labels,
align labels to window tokens, train, save the model with its label list and tokenizer.
"""

import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import AutoTokenizer, get_linear_schedule_with_warmup

from models.card import StudentCard
from models.export import export_student
from models.network import build_student
from models.settings import StudentSettings
from models.spans import Annotations
from models.windows import encode_windows, label_windows
from trainer.settings import TrainingSettings


def distill(
    texts: list[str],
    labels: list[Annotations],
    output_dir: Path,
    teacher: str,
    student: StudentSettings | None = None,
    training: TrainingSettings | None = None,
) -> StudentCard:
    """Train a student on (text, teacher annotations) and export it to output_dir."""
    student = student or StudentSettings()
    training = training or TrainingSettings()
    _seed_everything(training.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    tokenizer = AutoTokenizer.from_pretrained(student.backbone)
    windows = encode_windows(tokenizer, texts, student.max_length, student.stride)
    spans = [[(e.start, e.end, e.type.value) for e in note.entities] for note in labels]
    input_ids = torch.tensor(windows.input_ids)
    attention_mask = torch.tensor(windows.attention_mask)
    targets = torch.tensor(label_windows(windows, spans))

    model = build_student(student.backbone).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay
    )
    steps_per_epoch = -(-len(input_ids) // training.batch_size)
    total_steps = steps_per_epoch * training.epochs
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(training.warmup_ratio * total_steps), total_steps
    )
    generator = torch.Generator().manual_seed(training.seed)

    model.train()
    with Progress(
        TextColumn("[bold]distilling[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task("", total=total_steps)
        for epoch in range(training.epochs):
            order = torch.randperm(len(input_ids), generator=generator)
            for step in range(steps_per_epoch):
                batch = order[step * training.batch_size : (step + 1) * training.batch_size]
                loss = model(
                    input_ids=input_ids[batch].to(device),
                    attention_mask=attention_mask[batch].to(device),
                    labels=targets[batch].to(device),
                ).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                progress.update(
                    task, advance=1, description=f"epoch {epoch + 1} loss {loss.item():.3f}"
                )

    card = StudentCard(
        name=f"student-{datetime.now(UTC):%Y%m%d%H%M%S}",
        backbone=student.backbone,
        max_length=student.max_length,
        stride=student.stride,
        created_at=datetime.now(UTC),
        teacher=teacher,
    )
    export_student(model, tokenizer, card, output_dir)
    return card


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
