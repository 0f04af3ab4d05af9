"""The sentence head's targets and operating point.

Most false ADE alerts sit in sentences that report no adverse event (ADE Corpus dev: 7 of 10
ADE spans of the prompts' union). Besides its token labels the student learns, for every
token, whether its sentence reports one: the share of the teacher's readings with an ADE
mention there (one reading: 0 or 1). Its ADE mentions are then kept only in sentences above an
operating point, chosen where the student's sentence decisions best match the sentences all
readings agree report an ADE, on held-out teacher labels, never gold.
"""

import numpy as np
import torch

from models.decoding import sentence_ade_probabilities, word_probabilities
from models.labels import EntityType
from models.sentences import sentence_index
from models.windows import Windows
from trainer.corpora import Document

# Candidate operating points, coarse enough that a few hundred held-out sentences decide.
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05))
_IGNORED = -1.0


def ade_shares(document: Document) -> dict[int, float]:
    """Sentence index -> the share of the document's readings with an ADE mention in it."""
    readings = document.readings or [document.labels]
    sentence_of = sentence_index(document.text)
    counts: dict[int, int] = {}
    for reading in readings:
        for sentence in {sentence_of(e.start) for e in reading.entities
                         if e.type == EntityType.ADE}:  # fmt: skip
            counts[sentence] = counts.get(sentence, 0) + 1
    return {sentence: count / len(readings) for sentence, count in counts.items()}


def sentence_targets(windows: Windows, documents: list[Document]) -> torch.Tensor:
    """Per window token, its sentence's ADE share; -1 on special and padding tokens."""
    shares = [ade_shares(doc) for doc in documents]
    sentence_of = [sentence_index(doc.text) for doc in documents]
    rows = []
    for note, words, offsets in zip(
        windows.note_index, windows.word_ids, windows.offsets, strict=True
    ):
        rows.append([
            _IGNORED if word is None else shares[note].get(sentence_of[note](start), 0.0)
            for word, (start, _end) in zip(words, offsets, strict=True)
        ])  # fmt: skip
    return torch.tensor(rows, dtype=torch.float)


def sentence_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the sentence head over the tokens that count."""
    kept = targets != _IGNORED
    if not kept.any():
        return logits.sum() * 0
    return torch.nn.functional.binary_cross_entropy_with_logits(logits[kept], targets[kept])


def operating_point(
    documents: list[Document], windows: Windows, probabilities: np.ndarray
) -> float:
    """The threshold whose sentence decisions have the best F1 against the sentences all of
    the teacher's readings say report an ADE (the lowest of ties); 0.5 if none does."""
    spans, by_note = word_probabilities([d.text for d in documents], windows, probabilities)
    predicted, agreed = [], []
    for document, note_spans, note_probabilities in zip(documents, spans, by_note, strict=True):
        shares = ade_shares(document)
        for sentence, probability in sentence_ade_probabilities(
            sentence_index(document.text), note_spans, note_probabilities[:, -1]
        ).items():
            predicted.append(probability)
            agreed.append(shares.get(sentence, 0.0) == 1.0)
    scores, truth = np.array(predicted), np.array(agreed)
    if not truth.any():
        return 0.5

    def f1(threshold: float) -> float:
        chosen = scores >= threshold
        hits = (chosen & truth).sum()
        return 2 * hits / max(1, chosen.sum() + truth.sum())

    return max(THRESHOLDS, key=lambda t: (f1(t), -t))
