"""NegEx/ConText-style negation: a mention in the scope of a negation cue is marked negated.

One rule set for the teacher and the student, so a negated mention means the same from both.
As in NegEx, only findings (diseases, symptoms, adverse effects) are negated: in "no rash after
amoxicillin" the drug was still given.
Scope: from a pre-negation cue ("denies", "no", "without") forward to the end of the sentence
or a termination term ("but", "however"); a post-negation cue ("was ruled out") looks back.
"""

import re
from bisect import bisect_left

from models.labels import EntityType
from models.spans import Entity

_PRE_NEGATION = re.compile(
    r"\b(no|not|denie[sd]|deny|denying|without|negative for|free of|absence of|"
    r"no evidence of|no signs? of|no history of|never had|ruled out|rules out)\b",
    re.IGNORECASE,
)
_POST_NEGATION = re.compile(
    r"^\W{0,3}\s*(was|were|is|has been|have been)?\s*(ruled out|excluded|absent|negative|"
    r"unlikely|resolved)\b",
    re.IGNORECASE,
)
_TERMINATION = re.compile(
    r"\b(but|however|although|though|except|aside from|apart from|which|who|since|because|"
    r"due to|secondary to|presents? with|reports?|complains? of)\b",
    re.IGNORECASE,
)
_SENTENCE_BREAK = re.compile(r"[.!?;:\n]")
_MAX_SCOPE_WORDS = 8


def mark_negated(text: str, entities: list[Entity]) -> list[Entity]:
    """Entities with `negated` set where a negation cue has them in scope.

    Sentence breaks are found once per note, so a long note costs time linear in its length.
    """
    breaks = [match.start() for match in _SENTENCE_BREAK.finditer(text)]
    marked = []
    for entity in entities:
        negated = entity.type != EntityType.DRUG and _is_negated(text, breaks, entity)
        # Copying only what changes: a copy per entity was a tenth of decoding.
        marked.append(
            entity if negated == entity.negated else entity.model_copy(update={"negated": negated})
        )
    return marked


def _is_negated(text: str, breaks: list[int], entity: Entity) -> bool:
    """`breaks`: offsets of sentence-break characters; scope is the entity's own sentence."""
    previous = bisect_left(breaks, entity.start) - 1
    before = text[breaks[previous] + 1 if previous >= 0 else 0 : entity.start]
    cues = list(_PRE_NEGATION.finditer(before))
    if cues:
        scope = before[cues[-1].end() :]
        if not _TERMINATION.search(scope) and len(scope.split()) <= _MAX_SCOPE_WORDS:
            return True
    following = bisect_left(breaks, entity.end)
    after = text[entity.end : breaks[following] if following < len(breaks) else len(text)]
    return bool(_POST_NEGATION.search(after))
