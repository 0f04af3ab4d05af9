"""From per-word label probabilities to entities and drug→adverse-effect pairs."""

import re

import numpy as np

from models.context import mark_negated
from models.labels import LABELS, EntityType, split_label
from models.spans import AdePair, Annotations, Entity

# A drug and an effect are paired only inside one sentence: clinical notes state causality
# locally ("rash after starting amoxicillin"), and pairs across sentences are mostly wrong.
_SENTENCE_END = re.compile(r"[.!?;]\s|\n\s*\n")


def decode_entities(
    text: str, spans: dict[int, tuple[int, int]], probabilities: dict[int, np.ndarray]
) -> list[Entity]:
    """BIO-decode words in note order; an I- label that continues nothing starts an entity."""
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

    for word in sorted(probabilities):
        label_id = int(np.argmax(probabilities[word]))
        score = float(probabilities[word][label_id])
        prefix, entity_type = split_label(LABELS[label_id])
        start, end = spans[word]
        if entity_type is None:
            close()
            current = None
        elif prefix == "I" and current is not None and current[0] == entity_type:
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
    """
    sentence_of = _sentence_index(text)
    drugs = [e for e in entities if e.type == EntityType.DRUG]
    pairs: list[AdePair] = []
    for effect in (e for e in entities if e.type == EntityType.ADE and not e.negated):
        same_sentence = [d for d in drugs if sentence_of(d.start) == sentence_of(effect.start)]
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


def _sentence_index(text: str):
    boundaries = [match.end() for match in _SENTENCE_END.finditer(text)]
    return lambda offset: int(np.searchsorted(boundaries, offset, side="right"))
