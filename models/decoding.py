"""From per-word label probabilities to entities and drug→adverse-effect pairs."""

import itertools
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from models.context import mark_context
from models.labels import LABELS, EntityType, split_label
from models.pairing import PairModel
from models.sentences import item_pieces, sentence_index
from models.spans import AdePair, Annotations, Entity
from models.windows import Windows, first_subword_positions, word_spans


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def output_probabilities(logits: np.ndarray) -> np.ndarray:
    """The network's outputs per token -> probabilities: a softmax over LABELS and, where the
    student has the sentence head (one more column, models/network.py), its sigmoid."""
    labels = softmax(logits[..., : len(LABELS)])
    if logits.shape[-1] == len(LABELS):
        return labels
    return np.concatenate([labels, 1 / (1 + np.exp(-logits[..., len(LABELS) :]))], axis=-1)


def decode_windows(
    texts: list[str],
    windows: Windows,
    probabilities: np.ndarray,
    pair_model: PairModel | None = None,
    ade_threshold: float | None = None,
    ade_needs_drug: bool = False,
) -> list[Annotations]:
    """Output probabilities per window token -> annotations per note, at note offsets.

    With the sentence head and an `ade_threshold`, an ADE mention is kept only in a sentence
    whose words' mean probability of reporting an adverse event reaches it; with
    `ade_needs_drug`, only in a note where a drug is found too.
    """
    spans_by_note, probabilities_by_note = word_probabilities(texts, windows, probabilities)
    paths = best_label_paths([p[:, : len(LABELS)] for p in probabilities_by_note])
    annotations = []
    for text, spans, note_probabilities, path in zip(
        texts, spans_by_note, probabilities_by_note, paths, strict=True
    ):
        entities = labelled_entities(text, spans, note_probabilities[:, : len(LABELS)], path)
        if ade_threshold is not None and note_probabilities.shape[1] > len(LABELS):
            sentence_of = sentence_index(text)
            reporting = sentence_ade_probabilities(sentence_of, spans, note_probabilities[:, -1])
            entities = [
                e
                for e in entities
                if e.type != EntityType.ADE or reporting[sentence_of(e.start)] >= ade_threshold
            ]
        if ade_needs_drug:
            entities = drugless_ade_dropped(entities)
        annotations.append(annotate(text, entities, pair_model))
    return annotations


def drugless_ade_dropped(entities: list[Entity]) -> list[Entity]:
    """An adverse *drug* event needs a drug: a note's ADE mentions go where it names none.
    On ADE Corpus dev, 3 of a student's 629 such mentions were gold ADEs."""
    if any(e.type == EntityType.DRUG for e in entities):
        return entities
    return [e for e in entities if e.type != EntityType.ADE]


def without_drugless_ade(annotations: Annotations) -> Annotations:
    """A teacher's reading as `drugless_ade_dropped` leaves it (its pairs all have a drug)."""
    return annotations.model_copy(update={"entities": drugless_ade_dropped(annotations.entities)})


def word_probabilities(
    texts: list[str], windows: Windows, probabilities: np.ndarray
) -> tuple[list[list[tuple[int, int]]], list[np.ndarray]]:
    """Per note, its words' character spans in order and their output probabilities.

    A word seen in two overlapping windows gets the mean of both predictions. Averaging runs
    on arrays for all notes at once: per-word Python was a tenth of the student's time.
    """
    spans_by_note = word_spans(windows, len(texts))
    rows, columns, keys = [], [], []
    for window, words in enumerate(first_subword_positions(windows, spans_by_note)):
        base = windows.note_index[window] << 32
        for position, word in enumerate(words):
            if word is not None:
                rows.append(window)
                columns.append(position)
                keys.append(base | word)
    unique_keys, group = np.unique(np.asarray(keys, dtype=np.int64), return_inverse=True)
    means = np.zeros((len(unique_keys), probabilities.shape[-1]))
    np.add.at(means, group, probabilities[rows, columns])
    means /= np.bincount(group, minlength=len(unique_keys))[:, None]
    notes = unique_keys >> 32
    bounds = np.searchsorted(notes, np.arange(len(texts) + 1))
    ranges = list(itertools.pairwise(bounds))
    spans = [
        [spans_by_note[note][int(word)] for word in unique_keys[a:b] & 0xFFFFFFFF]
        for note, (a, b) in enumerate(ranges)
    ]
    return spans, [means[a:b] for a, b in ranges]


def sentence_ade_probabilities(
    sentence_of: Callable[[int], int], spans: list[tuple[int, int]], reporting: np.ndarray
) -> dict[int, float]:
    """Sentence index -> the mean over its words of the sentence head's probability."""
    sentences = np.array([sentence_of(start) for start, _ in spans], dtype=np.int64)
    if not len(sentences):
        return {}
    totals = np.bincount(sentences, weights=reporting)
    counts = np.bincount(sentences)
    return {int(s): float(totals[s] / counts[s]) for s in np.flatnonzero(counts)}


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


def best_label_paths(probabilities: list[np.ndarray]) -> list[np.ndarray]:
    """Per note, the most probable label sequence (words x labels) that is valid BIO (Viterbi).

    Word-by-word argmax can end a mention on a word whose type flips ("B-DISEASE I-SYMPTOM"),
    or start one mid-phrase; each such slip costs an exact-span match, so decode jointly.
    All notes step together; a note that has ended keeps its scores and points to itself.
    """
    lengths = np.array([len(p) for p in probabilities])
    if not lengths.size or lengths.max() == 0:
        return [np.zeros(0, dtype=np.int64) for _ in probabilities]
    labels = len(LABELS)
    log_probabilities = np.zeros((len(probabilities), lengths.max(), labels))
    for note, note_probabilities in enumerate(probabilities):
        log_probabilities[note, : len(note_probabilities)] = np.log(
            np.maximum(note_probabilities, 1e-12)
        )
    scores = _STARTS + log_probabilities[:, 0]
    stay = np.broadcast_to(np.arange(labels), scores.shape)
    backpointers = np.empty((lengths.max() - 1, *scores.shape), dtype=np.int64)
    for step in range(1, lengths.max()):
        candidates = scores[:, :, None] + _TRANSITIONS
        going = (step < lengths)[:, None]
        backpointers[step - 1] = np.where(going, candidates.argmax(axis=1), stay)
        scores = np.where(going, candidates.max(axis=1) + log_probabilities[:, step], scores)
    paths = np.empty(log_probabilities.shape[:2], dtype=np.int64)
    paths[:, -1] = scores.argmax(axis=1)
    every = np.arange(len(probabilities))
    for step in range(lengths.max() - 1, 0, -1):
        paths[:, step - 1] = backpointers[step - 1][every, paths[:, step]]
    return [path[:length] for path, length in zip(paths, lengths, strict=True)]


def labelled_entities(
    text: str, spans: list[tuple[int, int]], probabilities: np.ndarray, path: np.ndarray
) -> list[Entity]:
    """Labelled words -> entities; an entity's confidence is the mean probability of its
    words' labels."""
    entities: list[Entity] = []
    current: tuple[EntityType, int, int, list[float]] | None = None

    def close() -> None:
        if current is not None:
            entity_type, start, end, scores = current
            entities.append(
                Entity.in_note(text, start, end, entity_type, round(sum(scores) / len(scores), 4))
            )

    scores = probabilities[np.arange(len(path)), path].tolist()
    for (start, end), label_id, score in zip(spans, path.tolist(), scores, strict=True):
        prefix, entity_type = _SPLIT_LABELS[label_id]
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


_SPLIT_LABELS = [split_label(label) for label in LABELS]


def annotate(text: str, entities: list[Entity], pair_model: PairModel | None = None) -> Annotations:
    """Mentions -> final annotations: assertion and section marked, then effects paired
    with drugs.

    Teacher and student both end here, so their outputs mean the same thing.
    """
    entities = mark_context(text, _within_items(text, entities))
    return Annotations(entities=entities, ade_pairs=pair_adverse_events(text, entities, pair_model))


def _within_items(text: str, entities: list[Entity]) -> list[Entity]:
    """ "Generalized anxiety disorder\\nPneumonia" is two mentions, not one."""
    result = []
    for entity in entities:
        pieces = item_pieces(text, entity.start, entity.end)
        if pieces == [(entity.start, entity.end)]:
            result.append(entity)
            continue
        result += [
            entity.model_copy(update={"start": start, "end": end, "text": text[start:end]})
            for start, end in pieces
        ]
    return result


def pair_adverse_events(
    text: str, entities: list[Entity], pair_model: PairModel | None = None
) -> list[AdePair]:
    """Link each adverse effect to drugs of its sentence: those the pair model accepts, or
    without one, the nearest drug.

    A negated effect ("no rash on amoxicillin") or a family member's is no adverse event of
    the patient's and is not paired; a possible or hypothetical one is, and says so.
    Mentions are grouped by sentence once, so a long note costs time linear in its entities.
    """
    pairs: list[AdePair] = []
    for effect, drugs, effects in pair_candidates(text, entities):
        if pair_model is not None:
            pairs += pair_model.pairs(text, effect, drugs, effects)
            continue
        drug = min(drugs, key=lambda d: abs(d.start - effect.start))
        pairs.append(
            AdePair(
                drug=drug,
                effect=effect,
                confidence=round(drug.confidence * effect.confidence, 4),
            )
        )
    return pairs


def pair_candidates(
    text: str, entities: list[Entity]
) -> list[tuple[Entity, list[Entity], list[Entity]]]:
    """(effect, the drugs of its sentence, the effects of its sentence) for each effect that is
    neither negated nor a family member's and shares its sentence with a drug."""
    sentence_of = sentence_index(text)
    by_sentence: dict[tuple[int, EntityType], list[Entity]] = defaultdict(list)
    for entity in entities:
        by_sentence[(sentence_of(entity.start), entity.type)].append(entity)
    return [
        (effect, drugs, by_sentence[(sentence, EntityType.ADE)])
        for effect in entities
        if effect.type == EntityType.ADE and not (effect.negated or effect.family)
        for sentence in [sentence_of(effect.start)]
        if (drugs := by_sentence.get((sentence, EntityType.DRUG)))
    ]
