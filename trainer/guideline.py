"""Teacher labels brought to the annotation guideline the student is scored against.

An LLM often labels "pegylated interferon and ribavirin" as one drug, and "congestive heart
failure (CHF)" as one mention; the gold corpora label each drug on its own (PHEE, ADE Corpus),
and a long form and its abbreviation as two mentions (ADE Corpus, BC5CDR; PHEE does both). A
student that learns the merged spans repeats them, and each costs a false positive and two
misses.
"""

import re
from collections.abc import Callable

from models.labels import EntityType
from models.spans import Annotations, Entity
from trainer.corpora import Document
from trainer.settings import TrainingSettings

# ", " / ", and " / " and " / " or " / " plus " between two drugs.
_COORDINATION = re.compile(r"\s*,\s+(?:(?:and|or)\s+)?|\s+(?:and|or|plus)\s+")
# A mention that ends in an abbreviation in brackets: "... (CHF)", "... (5-FU)".
_ABBREVIATION = re.compile(r"\s+\((?=[^\s()]*[A-Z])([^\s()]{2,10})\)$")

Bounds = list[tuple[int, int]]
Rule = Callable[[str, Annotations], Annotations]


def one_drug_per_mention(text: str, labels: Annotations) -> Annotations:
    """DRUG mentions split at coordinations; a pair with a split drug pairs with each part."""
    return _split(text, labels, _drug_bounds)


def abbreviations_apart(text: str, labels: Annotations) -> Annotations:
    """'long form (LF)' split into 'long form' and 'LF', of any type; pairs follow each part."""
    return _split(text, labels, _abbreviation_bounds)


def guideline_rules(training: TrainingSettings) -> dict[str, Rule]:
    """The rules the settings ask for, by the names the bench's footer gives them."""
    rules = {
        "one drug per mention": (one_drug_per_mention, training.one_drug_per_mention),
        "abbreviations apart": (abbreviations_apart, training.abbreviations_apart),
    }
    return {name: rule for name, (rule, wanted) in rules.items() if wanted}


def to_guideline(document: Document, training: TrainingSettings) -> Document:
    """The labels and each reading split where the gold corpora's guideline splits mentions
    (gold labels already are: for them this changes nothing)."""
    rules = guideline_rules(training).values()

    def split(labels: Annotations) -> Annotations:
        for rule in rules:
            labels = rule(document.text, labels)
        return labels

    if document.labels is None or not rules:
        return document
    readings = document.readings and [split(reading) for reading in document.readings]
    return document.model_copy(update={"labels": split(document.labels), "readings": readings})


def _drug_bounds(mention: str, entity_type: EntityType) -> Bounds:
    if entity_type != EntityType.DRUG:
        return []
    bounds, start = [], 0
    for coordination in _COORDINATION.finditer(mention):
        bounds.append((start, coordination.start()))
        start = coordination.end()
    return bounds and [*bounds, (start, len(mention))]


def _abbreviation_bounds(mention: str, entity_type: EntityType) -> Bounds:
    found = _ABBREVIATION.search(mention)
    if found is None or found.start() == 0:
        return []
    return [(0, found.start()), found.span(1)]


def _split(
    text: str, labels: Annotations, bounds_of: Callable[[str, EntityType], Bounds]
) -> Annotations:
    parts_of: dict[tuple[int, int, EntityType], list[Entity]] = {}
    entities: list[Entity] = []
    for entity in labels.entities:
        mention = text[entity.start : entity.end]
        parts = [
            entity.model_copy(update={"start": entity.start + a, "end": entity.start + b,
                                      "text": mention[a:b], "codes": []})
            for a, b in bounds_of(mention, entity.type)
            if b > a
        ] or [entity]  # fmt: skip
        parts_of[_key(entity)] = parts
        entities += parts
    pairs = [
        pair.model_copy(update={"drug": drug, "effect": effect})
        for pair in labels.ade_pairs
        for drug in parts_of.get(_key(pair.drug), [pair.drug])
        for effect in parts_of.get(_key(pair.effect), [pair.effect])
    ]
    return Annotations(entities=entities, ade_pairs=pairs)


def _key(entity: Entity) -> tuple[int, int, EntityType]:
    return entity.start, entity.end, entity.type
