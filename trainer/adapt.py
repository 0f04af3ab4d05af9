"""Domain adaptation of the student's encoder: more masked-LM pretraining on unlabelled
in-domain text ("Don't stop pretraining", Gururangan et al. 2020).

No biomedical encoder's weights can be installed here, and MiniLM-L6 learned general English.
The folder this writes is a backbone like any other (`CLINSTREAM_STUDENT_BACKBONE`): the
encoder's weights with their masked-LM head, which token classification drops, and the
tokenizer. Held-out windows of the same text measure the masked-LM loss before and after.
"""

import logging
import random
import time
from pathlib import Path

import torch
from pydantic import BaseModel
from transformers import (
    AutoModelForMaskedLM,
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    PreTrainedModel,
    get_linear_schedule_with_warmup,
)

from models.settings import StudentSettings
from trainer.settings import AdaptSettings
from trainer.train import training_device

log = logging.getLogger(__name__)
_LOG_EVERY = 100


class AdaptResult(BaseModel):
    """adapt.json of an adapted backbone."""

    backbone: str
    windows: int
    held_out_windows: int
    steps: int
    held_out_loss_before: float
    held_out_loss_after: float
    seconds: float
    device: str


def adapt_backbone(
    texts: list[str],
    output: Path,
    settings: AdaptSettings | None = None,
    student: StudentSettings | None = None,
) -> AdaptResult:
    """Continue the backbone's masked-LM pretraining on `texts`; write it to `output`."""
    settings = settings or AdaptSettings()
    student = student or StudentSettings()
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    device = training_device()
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(student.backbone)
    model = AutoModelForMaskedLM.from_pretrained(student.backbone).to(device)
    windows = tokenizer(
        texts,
        truncation=True,
        max_length=student.max_length,
        return_overflowing_tokens=True,
        return_special_tokens_mask=True,
        verbose=False,
    )
    examples = [
        {"input_ids": ids, "special_tokens_mask": special}
        for ids, special in zip(windows["input_ids"], windows["special_tokens_mask"], strict=True)
    ]
    random.shuffle(examples)
    held = max(1, round(len(examples) * settings.held_out))
    held_out, train = examples[:held], examples[held:]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=settings.mlm_probability)
    before = _loss(model, collator, held_out, settings, device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    schedule = get_linear_schedule_with_warmup(
        optimiser, int(settings.steps * settings.warmup_ratio), settings.steps
    )
    model.train()
    for step in range(settings.steps):
        _train_encoder(model, step >= settings.head_warmup_steps)
        start = step * settings.batch_size % len(train)
        batch = collator(train[start : start + settings.batch_size]).to(device)
        loss = model(**batch).loss
        loss.backward()
        if (step + 1) % _LOG_EVERY == 0:
            log.info(
                "adapt step %d of %d: masked-LM loss %.3f", step + 1, settings.steps, loss.item()
            )
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
    after = _loss(model, collator, held_out, settings, device)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    result = AdaptResult(
        backbone=student.backbone,
        windows=len(examples),
        held_out_windows=held,
        steps=settings.steps,
        held_out_loss_before=round(before, 4),
        held_out_loss_after=round(after, 4),
        seconds=round(time.perf_counter() - started, 1),
        device=str(device),
    )
    (output / "adapt.json").write_text(result.model_dump_json(indent=2) + "\n")
    return result


def _train_encoder(model: PreTrainedModel, train: bool) -> None:
    """Freeze or thaw the encoder. A sentence encoder's checkpoint has no masked-LM head, so
    its head starts random; until the head has learned, its gradients into the encoder are noise
    that would undo what the encoder knows. The head's decoder is tied to the word embeddings,
    which stay frozen with the encoder."""
    for parameter in model.base_model.parameters():
        parameter.requires_grad_(train)


@torch.no_grad()
def _loss(
    model: PreTrainedModel,
    collator: DataCollatorForLanguageModeling,
    examples: list[dict],
    settings: AdaptSettings,
    device: torch.device,
) -> float:
    """Mean masked-LM loss on `examples`, with masks drawn from a fixed seed each time, so the
    loss before and after is over the same masked tokens."""
    model.eval()
    generator_state = torch.get_rng_state()
    torch.manual_seed(settings.seed)
    losses = []
    for start in range(0, len(examples), settings.batch_size):
        batch = collator(examples[start : start + settings.batch_size]).to(device)
        losses.append(model(**batch).loss.item())
    torch.set_rng_state(generator_state)
    model.train()
    return sum(losses) / len(losses)
