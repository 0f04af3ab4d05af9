import numpy as np

from models.decoding import decode_entities, pair_adverse_events
from models.labels import LABEL_TO_ID, LABELS, EntityType
from models.spans import Entity


def one_hot(label: str, score: float = 0.9) -> np.ndarray:
    vector = np.full(len(LABELS), (1 - score) / (len(LABELS) - 1))
    vector[LABEL_TO_ID[label]] = score
    return vector


def test_bio_words_become_entities_at_character_offsets():
    text = "Took atrial fibrillation meds"
    spans = {0: (0, 4), 1: (5, 11), 2: (12, 24), 3: (25, 29)}
    probabilities = {0: one_hot("O"), 1: one_hot("B-DISEASE"), 2: one_hot("I-DISEASE", 0.7),
                     3: one_hot("O")}  # fmt: skip
    (entity,) = decode_entities(text, spans, probabilities)
    assert (entity.type, entity.start, entity.end) == (EntityType.DISEASE, 5, 24)
    assert entity.text == "atrial fibrillation" == text[entity.start : entity.end]
    assert entity.confidence == 0.8


def test_inside_label_without_begin_starts_an_entity_and_type_change_splits():
    text = "a b c"
    spans = {0: (0, 1), 1: (2, 3), 2: (4, 5)}
    probabilities = {0: one_hot("I-DRUG"), 1: one_hot("I-ADE"), 2: one_hot("I-ADE")}
    entities = decode_entities(text, spans, probabilities)
    assert [(e.type, e.text) for e in entities] == [(EntityType.DRUG, "a"), (EntityType.ADE, "b c")]


def entity(text: str, mention: str, entity_type: EntityType) -> Entity:
    start = text.index(mention)
    return Entity(type=entity_type, start=start, end=start + len(mention), text=mention,
                  confidence=0.5)  # fmt: skip


def test_adverse_effect_pairs_with_nearest_drug_in_its_sentence_only():
    text = "Rash after amoxicillin. Later on warfarin; then nausea alone."
    entities = [
        entity(text, "Rash", EntityType.ADE),
        entity(text, "amoxicillin", EntityType.DRUG),
        entity(text, "warfarin", EntityType.DRUG),
        entity(text, "nausea", EntityType.ADE),
    ]
    (pair,) = pair_adverse_events(text, entities)
    assert (pair.drug.text, pair.effect.text, pair.confidence) == ("amoxicillin", "Rash", 0.25)
