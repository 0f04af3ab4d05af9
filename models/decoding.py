"""From per-word label probabilities to entities and drug→adverse-effect pairs."""

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from models.context import mark_negated
from models.labels import LABELS, EntityType, split_label
from models.spans import AdePair, Annotations, Entity
from models.windows import Windows, first_subword_positions, word_spans

# A drug and an effect are paired only inside one sentence: clinical notes state causality
# locally ("rash after starting amoxicillin"), and pairs across sentences are mostly wrong.
_SENTENCE_END = re.compile(r"[.!?;]\s|\n\s*\n")


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def decode_windows(
    texts: list[str], windows: Windows, probabilities: np.ndarray
) -> list[Annotations]:
    """Label probabilities per window token -> annotations per note, at note offsets.

    A word seen in two overlapping windows gets the mean of both predictions.
    """
    spans_by_note = word_spans(windows, len(texts))
    firsts = first_subword_positions(windows, spans_by_note)
    sums: list[dict[int, np.ndarray]] = [{} for _ in texts]
    counts: list[dict[int, int]] = [{} for _ in texts]
    for window, words in enumerate(firsts):
        note = windows.note_index[window]
        for position, word in enumerate(words):
            if word is None:
                continue
            sums[note][word] = sums[note].get(word, 0) + probabilities[window, position]
            counts[note][word] = counts[note].get(word, 0) + 1
    return [
        annotate(
            text,
            decode_entities(
                text,
                spans_by_note[note],
                {word: total / counts[note][word] for word, total in sums[note].items()},
            ),
        )
        for note, text in enumerate(texts)
    ]


def _transition_scores() -> tuple[np.ndarray, np.ndarray]:
    """Log-space scores of BIO's rules: I-X may only follow B-X or I-X, nor open a note."""
    parts = [split_label(label) for label in LABELS]
    allowed = np.array(
        [
            [inside != "I" or (before in ("B", "I") and before_type == inside_type)
             for inside, inside_type in parts]
            for before, before_type in parts
        ]
    )  # fmt: skip
    starts = np.array([prefix != "I" for prefix, _ in parts])
    return np.where(allowed, 0.0, -np.inf), np.where(starts, 0.0, -np.inf)


_TRANSITIONS, _STARTS = _transition_scores()


def best_label_path(probabilities: np.ndarray) -> list[int]:
    """The most probable label sequence (words x labels) that is valid BIO (Viterbi).

    Word-by-word argmax can end a mention on a word whose type flips ("B-DISEASE I-SYMPTOM"),
    or start one mid-phrase; each such slip costs an exact-span match, so decode jointly.
    """
    log_probabilities = np.log(np.maximum(probabilities, 1e-12))
    scores = _STARTS + log_probabilities[0]
    backpointers = []
    for word_scores in log_probabilities[1:]:
        candidates = scores[:, None] + _TRANSITIONS
        backpointers.append(candidates.argmax(axis=0))
        scores = candidates.max(axis=0) + word_scores
    path = [int(scores.argmax())]
    for pointers in reversed(backpointers):
        path.append(int(pointers[path[-1]]))
    return path[::-1]


def decode_entities(
    text: str, spans: dict[int, tuple[int, int]], probabilities: dict[int, np.ndarray]
) -> list[Entity]:
    """Words in note order -> entities, along the best valid BIO path; an entity's confidence
    is the mean probability of its words' labels."""
    words = sorted(probabilities)
    if not words:
        return []
    path = best_label_path(np.stack([probabilities[word] for word in words]))
    entities: list[Entity] = []
    current: tuple[EntityType, int, int, list[float]] | None = None

    def close() -> None:
        if current is not None:
            entity_type, start, end, scores = current
            entities.append(
                Entity(
                    type=entity_type,
                    start=start,
                    end=end,
                    text=text[start:end],
                    confidence=round(float(np.mean(scores)), 4),
                )
            )

    for word, label_id in zip(words, path, strict=True):
        score = float(probabilities[word][label_id])
        prefix, entity_type = split_label(LABELS[label_id])
        start, end = spans[word]
        if entity_type is None:
            close()
            current = None
        elif prefix == "I" and current is not None:
            current = (entity_type, current[1], end, [*current[3], score])
        else:
            close()
            current = (entity_type, start, end, [score])
    close()
    return entities


def annotate(text: str, entities: list[Entity]) -> Annotations:
    """Mentions -> final annotations: negation marked, then effects paired with drugs.

    Teacher and student both end here, so their outputs mean the same thing.
    """
    entities = mark_negated(text, entities)
    return Annotations(entities=entities, ade_pairs=pair_adverse_events(text, entities))


def pair_adverse_events(text: str, entities: list[Entity]) -> list[AdePair]:
    """Link each adverse effect to the nearest drug in the same sentence.

    A negated effect ("no rash on amoxicillin") is no adverse event and is not paired.
    Drugs are grouped by sentence once, so a long note costs time linear in its entities.
    """
    sentence_of = sentence_index(text)
    drugs_by_sentence: dict[int, list[Entity]] = defaultdict(list)
    for drug in (e for e in entities if e.type == EntityType.DRUG):
        drugs_by_sentence[sentence_of(drug.start)].append(drug)
    pairs: list[AdePair] = []
    for effect in (e for e in entities if e.type == EntityType.ADE and not e.negated):
        same_sentence = drugs_by_sentence.get(sentence_of(effect.start))
        if not same_sentence:
            continue
        drug = min(same_sentence, key=lambda d: abs(d.start - effect.start))
        pairs.append(
            AdePair(
                drug=drug,
                effect=effect,
                confidence=round(drug.confidence * effect.confidence, 4),
            )
        )
    return pairs


def sentence_index(text: str) -> Callable[[int], int]:
    """offset -> index of the sentence holding it."""
    boundaries = [match.end() for match in _SENTENCE_END.finditer(text)]
    return lambda offset: bisect_right(boundaries, offset)
