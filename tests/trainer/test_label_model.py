"""The label model learns which teacher to trust from their agreement alone, without gold."""

import pytest

from models.labels import EntityType
from models.spans import Annotations, Entity
from trainer.label_model import fit_label_model

TEXTS = [f"Patient {i} had a rash after drug{i} and a cough." for i in range(60)]


def reading(text: str, *mentions: tuple[str, EntityType]) -> Annotations:
    entities = []
    for mention, entity_type in mentions:
        start = text.index(mention)
        entities.append(Entity(type=entity_type, start=start, end=start + len(mention),
                               text=mention, confidence=1.0))  # fmt: skip
    return Annotations(entities=sorted(entities, key=lambda e: e.start), ade_pairs=[])


def readings(text: str, i: int) -> list[Annotations]:
    """Two careful teachers that agree on the rash and the drug; a noisy one that also calls
    the cough an effect, and a third careful one that misses the rash one time in three."""
    rash, drug = ("rash", EntityType.ADE), (f"drug{i}", EntityType.DRUG)
    cough = ("cough", EntityType.ADE)
    return [
        reading(text, rash, drug),
        reading(text, rash, drug),
        reading(text, rash, drug, cough),
        reading(text, drug) if i % 3 == 0 else reading(text, rash, drug),
    ]


@pytest.fixture(scope="module")
def model():
    return fit_label_model(TEXTS, [readings(t, i) for i, t in enumerate(TEXTS)])


def test_what_most_reliable_teachers_agree_on_is_kept_and_a_lone_noisy_span_is_not(model):
    labels = model.label(TEXTS[3], readings(TEXTS[3], 3))
    assert [(e.text, e.type) for e in labels.entities] == [
        ("rash", EntityType.ADE), ("drug3", EntityType.DRUG)
    ]  # fmt: skip
    (pair,) = labels.ade_pairs
    assert (pair.drug.text, pair.effect.text) == ("drug3", "rash")


def test_it_learns_the_noisy_teacher_calls_outside_words_effects(model):
    outside, ade = model.classes.index("O"), model.classes.index("ADE")
    noisy, careful = model.confusion[2], model.confusion[0]
    assert noisy[outside][ade] > 10 * careful[outside][ade]


def test_texts_need_the_same_teachers():
    with pytest.raises(ValueError, match="same number of readings"):
        fit_label_model(TEXTS[:2], [readings(TEXTS[0], 0), readings(TEXTS[1], 1)[:2]])
