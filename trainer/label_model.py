"""Several teachers' readings -> one, each weighted by its reliability, learned without gold.

A vote counts every teacher alike; the prompts are not alike (one finds more effects, another is
more precise). This is the Dawid–Skene model (1979) on words, as skweak and Snorkel use it for
weak supervision: each word of each text has a true class (O or an entity type); each teacher
labels it through its own confusion matrix (P(teacher says k | true class c)), independently of
the others. EM fits the class prior and every confusion matrix from the teachers' agreement
alone, without gold, and gives each word a posterior over the classes.

Mentions keep the teachers' boundaries: every span some teacher returned is a candidate, scored
by the mean posterior of its type over its words. Measured against a vote in the README (#22):
better DRUG labels, worse ADE ones, since the prompts' errors are not independent.
"""

import re

import numpy as np
from pydantic import BaseModel

from models.decoding import annotate
from models.labels import EntityType
from models.spans import Annotations, Entity, non_overlapping

OUTSIDE = "O"
_WORD = re.compile(r"\w+|[^\w\s]")
_SMOOTHING = 0.01


class LabelModel(BaseModel):
    """Classes (O first, then entity types) and what EM learned: the prior over classes and, per
    teacher, confusion[teacher][true class][said class]."""

    classes: list[str]
    prior: list[float]
    confusion: list[list[list[float]]]

    def word_posteriors(self, text: str, readings: list[Annotations]) -> np.ndarray:
        """words × classes: P(true class | what each teacher said of the word)."""
        said = _said(text, readings, self.classes)
        log = np.log(np.array(self.prior)) + sum(
            np.log(np.array(matrix))[:, said[:, j]].T for j, matrix in enumerate(self.confusion)
        )
        log -= log.max(axis=1, keepdims=True)
        posterior = np.exp(log)
        return posterior / posterior.sum(axis=1, keepdims=True)

    def label(self, text: str, readings: list[Annotations], threshold: float = 0.5) -> Annotations:
        """The teachers' spans whose type's mean word posterior is at or above `threshold`,
        overlaps resolved by that score then length; it is the entity's confidence. Negation
        and pairing are redone on the result."""
        words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        posterior = self.word_posteriors(text, readings)
        scores: dict[tuple[int, int, EntityType], float] = {}
        for reading in readings:
            for e in reading.entities:
                inside = [i for i, (s, t) in enumerate(words) if s >= e.start and t <= e.end]
                if inside:
                    column = self.classes.index(e.type.value)
                    scores[(e.start, e.end, e.type)] = float(posterior[inside, column].mean())
        ranked = sorted(
            (span for span, p in scores.items() if p >= threshold),
            key=lambda span: (-scores[span], span[0] - span[1], span[0]),
        )
        return annotate(text, [
            Entity.in_note(text, s, e, t, round(scores[(s, e, t)], 4))
            for s, e, t in sorted(non_overlapping(ranked))
        ])  # fmt: skip


def fit_label_model(
    texts: list[str], readings: list[list[Annotations]], iterations: int = 50
) -> LabelModel:
    """EM over every word of every text. It starts from the teachers' average vote (each
    teacher taken as mostly right), which fixes which class is which."""
    teachers = {len(r) for r in readings}
    if len(teachers) != 1 or teachers == {0}:
        raise ValueError(f"every text needs the same number of readings, not {sorted(teachers)}")
    classes = [OUTSIDE, *(t.value for t in EntityType)]
    said = np.concatenate(
        [_said(text, r, classes) for text, r in zip(texts, readings, strict=True)]
    )
    one_hot = np.eye(len(classes))[said]  # words × teachers × classes
    posterior = one_hot.mean(axis=1)
    for _ in range(iterations):
        prior = (posterior.sum(axis=0) + _SMOOTHING) / (len(posterior) + _SMOOTHING * len(classes))
        confusion = np.einsum("wc,wjk->jck", posterior, one_hot) + _SMOOTHING
        confusion /= confusion.sum(axis=2, keepdims=True)
        log = np.log(prior) + np.einsum("wjk,jck->wc", one_hot, np.log(confusion))
        log -= log.max(axis=1, keepdims=True)
        updated = np.exp(log)
        updated /= updated.sum(axis=1, keepdims=True)
        converged = np.abs(updated - posterior).max() < 1e-5
        posterior = updated
        if converged:
            break
    return LabelModel(classes=classes, prior=prior.tolist(), confusion=confusion.tolist())


def _said(text: str, readings: list[Annotations], classes: list[str]) -> np.ndarray:
    """words × teachers: the class index each teacher gave each word (O outside its spans)."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    said = np.zeros((len(words), len(readings)), dtype=int)
    for j, reading in enumerate(readings):
        for e in reading.entities:
            for i, (start, end) in enumerate(words):
                if start >= e.start and end <= e.end:
                    said[i, j] = classes.index(e.type.value)
    return said
