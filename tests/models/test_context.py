import pytest

from models.context import mark_negated
from models.labels import EntityType
from models.spans import Entity


def negated(text: str, mention: str) -> bool:
    start = text.index(mention)
    entity = Entity(type=EntityType.SYMPTOM, start=start, end=start + len(mention), text=mention,
                    confidence=1.0)  # fmt: skip
    (marked,) = mark_negated(text, [entity])
    return marked.negated


@pytest.mark.parametrize(
    ("text", "mention", "expected"),
    [
        ("He denies chest pain.", "chest pain", True),
        ("No fever, chills or vomiting.", "vomiting", True),
        ("Negative for hematuria.", "hematuria", True),
        ("Pulmonary embolism was ruled out.", "Pulmonary embolism", True),
        ("Denies nausea but reports vomiting.", "vomiting", False),
        ("Denies nausea. Has vomiting.", "vomiting", False),
        ("Developed rash after amoxicillin.", "rash", False),
        ("Not on warfarin; hematuria noted.", "hematuria", False),
    ],
)
def test_negation_scope(text, mention, expected):
    assert negated(text, mention) is expected
