"""Teacher labels brought to the annotation guideline the student is scored against.

An LLM often labels "pegylated interferon and ribavirin" as one drug; the gold corpora (PHEE,
ADE Corpus) label each drug on its own. A student that learns the merged spans repeats them, and
each one costs a false positive and two misses.
"""

import re

from models.labels import EntityType
from models.spans import Annotations, Entity

# ", " / ", and " / " and " / " or " / " plus " between two drugs.
_COORDINATION = re.compile(r"\s*,\s+(?:(?:and|or)\s+)?|\s+(?:and|or|plus)\s+")


def one_drug_per_mention(text: str, labels: Annotations) -> Annotations:
    """DRUG mentions split at coordinations; a pair with a split drug pairs with each part."""
    parts_of: dict[tuple[int, int], list[Entity]] = {}
    entities: list[Entity] = []
    for entity in labels.entities:
        parts = _drug_parts(text, entity) if entity.type == EntityType.DRUG else [entity]
        parts_of[(entity.start, entity.end)] = parts
        entities += parts
    pairs = [
        pair.model_copy(update={"drug": part})
        for pair in labels.ade_pairs
        for part in parts_of.get((pair.drug.start, pair.drug.end), [pair.drug])
    ]
    return Annotations(entities=entities, ade_pairs=pairs)


def _drug_parts(text: str, drug: Entity) -> list[Entity]:
    mention = text[drug.start : drug.end]
    bounds, start = [], 0
    for coordination in _COORDINATION.finditer(mention):
        bounds.append((start, coordination.start()))
        start = coordination.end()
    if not bounds:
        return [drug]
    bounds.append((start, len(mention)))
    return [
        drug.model_copy(update={"start": drug.start + a, "end": drug.start + b,
                                "text": mention[a:b], "codes": []})
        for a, b in bounds
        if b > a
    ]  # fmt: skip
