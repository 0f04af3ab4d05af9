import itertools

import numpy as np

from models.decoding import best_label_paths, labelled_entities, pair_adverse_events
from models.labels import LABEL_TO_ID, LABELS, EntityType
from models.spans import Entity


def decode_entities(text: str, spans: dict, probabilities: dict) -> list[Entity]:
    """Words in note order along the best valid BIO path, as decode_windows takes them."""
    words = sorted(probabilities)
    stacked = np.stack([probabilities[word] for word in words])
    (path,) = best_label_paths([stacked])
    return labelled_entities(text, [spans[word] for word in words], stacked, path)


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


def mix(**scores: float) -> np.ndarray:
    """Probabilities {label, "_" for "-": p}; the other labels share what is left."""
    vector = np.full(len(LABELS), (1 - sum(scores.values())) / (len(LABELS) - len(scores)))
    for label, score in scores.items():
        vector[LABEL_TO_ID[label.replace("_", "-")]] = score
    return vector


def test_a_type_that_flips_inside_a_mention_does_not_split_it():
    text = "atrial fibrillation"
    spans = {0: (0, 6), 1: (7, 19)}
    # Word by word this reads B-DISEASE I-SYMPTOM: two mentions, neither exact.
    probabilities = {0: one_hot("B-DISEASE"), 1: mix(I_SYMPTOM=0.5, I_DISEASE=0.4)}
    (entity,) = decode_entities(text, spans, probabilities)
    assert (entity.type, entity.text, entity.confidence) == (EntityType.DISEASE, text, 0.65)


def test_an_inside_label_cannot_open_a_mention():
    text = "took warfarin"
    spans = {0: (0, 4), 1: (5, 13)}
    probabilities = {0: one_hot("O"), 1: mix(I_DRUG=0.6, B_DRUG=0.3)}
    (entity,) = decode_entities(text, spans, probabilities)
    assert (entity.type, entity.text, entity.confidence) == (EntityType.DRUG, "warfarin", 0.3)


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


def brute_force_path(probabilities: np.ndarray) -> list[int]:
    """The best valid BIO path by trying every label sequence (tiny inputs only)."""
    valid = [
        path
        for path in itertools.product(range(len(LABELS)), repeat=len(probabilities))
        if all(
            not LABELS[now].startswith("I-")
            or (before is not None and LABELS[before][2:] == LABELS[now][2:])
            for before, now in zip((None, *path), path, strict=False)
        )
    ]
    return list(max(valid, key=lambda path: np.log(probabilities[range(len(path)), path]).sum()))


def test_notes_decoded_together_get_each_its_own_best_valid_path():
    rng = np.random.default_rng(5)
    notes = [rng.dirichlet(np.full(len(LABELS), 0.3), size=length) for length in (3, 1, 0, 4, 2)]
    paths = best_label_paths(notes)
    for note, path in zip(notes, paths, strict=True):
        assert path.tolist() == (brute_force_path(note) if len(note) else [])
