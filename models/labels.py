"""BIO label schema over the entity types clinstream extracts.

The order of LABELS is part of every exported student: it is saved with the model so that a
served version decodes with the labels it was trained on.
"""

from enum import StrEnum


class EntityType(StrEnum):
    DRUG = "DRUG"
    DISEASE = "DISEASE"
    SYMPTOM = "SYMPTOM"
    # An adverse effect: a disorder or symptom the note attributes to a drug.
    ADE = "ADE"


OUTSIDE = "O"
LABELS: tuple[str, ...] = (OUTSIDE,) + tuple(
    f"{prefix}-{entity_type}" for entity_type in EntityType for prefix in ("B", "I")
)
LABEL_TO_ID: dict[str, int] = {label: index for index, label in enumerate(LABELS)}
# Tokens that carry no label in training (special tokens, later sub-words of a word).
IGNORE_INDEX = -100


def split_label(label: str) -> tuple[str, EntityType | None]:
    """'B-DRUG' -> ('B', DRUG); 'O' -> ('O', None)."""
    if label == OUTSIDE:
        return OUTSIDE, None
    prefix, entity_type = label.split("-", 1)
    return prefix, EntityType(entity_type)
