"""What the student is trained towards: each window token's target (hard, or the share of
teachers per label), the loss against it, and the weights and sampling that shape it."""

from collections import Counter

import torch

from models.labels import IGNORE_INDEX, LABEL_TO_ID, LABELS, OUTSIDE
from models.spans import Annotations
from models.windows import Windows, label_windows
from trainer.corpora import Document
from trainer.settings import TrainingSettings


def spans(labels: Annotations) -> list[tuple[int, int, str]]:
    return [(e.start, e.end, e.type.value) for e in labels.entities]


def target_distributions(
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
        read = [spans((doc.readings or [doc.labels])[reader]) for doc in documents]
        labels = torch.tensor(label_windows(windows, read)).clamp(min=0)
        shares += torch.nn.functional.one_hot(labels, len(LABELS)).float() / readers
    return shares


def loss(
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


def sample_outside(target: torch.Tensor, keep: float, generator: torch.Generator) -> torch.Tensor:
    """The batch's targets with all but a random share `keep` of O tokens ignored."""
    if keep >= 1:
        return target
    dropped = (target == LABEL_TO_ID[OUTSIDE]) & (
        torch.rand(target.shape, generator=generator) >= keep
    )
    return target.masked_fill(dropped, IGNORE_INDEX)


def class_weights(targets: torch.Tensor, power: float) -> torch.Tensor:
    """(frequency of the most common label / frequency of this label) ** power, so rare
    entity labels are not drowned by O; labels never seen get the largest weight."""
    counts = Counter(targets[targets != IGNORE_INDEX].tolist())
    most = max(counts.values())
    rarest = min(counts.values())
    return torch.tensor(
        [(most / counts.get(label, rarest)) ** power for label in range(len(LABELS))],
        dtype=torch.float,
    )
