"""Several teachers' readings of one text -> one, by voting on spans.

Teachers (LLM prompts, the lexicon) err in different places; a mention that several of them
return is more often right. A (start, end, type) is kept when at least `min_votes` readings
have it; overlapping survivors keep the one with more votes, then the longer. Its confidence
is the share of readings that had it. Negation and pairing are redone on the result.
"""

from collections import Counter

from models.decoding import annotate
from models.spans import Annotations, Entity, non_overlapping


def vote(text: str, readings: list[Annotations], min_votes: int) -> Annotations:
    if not 1 <= min_votes <= len(readings):
        raise ValueError(f"min_votes must be 1 to {len(readings)}, not {min_votes}")
    votes = Counter(
        span
        for reading in readings
        for span in {(entity.start, entity.end, entity.type) for entity in reading.entities}
    )
    return annotate(text, _kept(text, votes, min_votes, len(readings)))


def _kept(text: str, votes: Counter, min_votes: int, readers: int) -> list[Entity]:
    ranked = sorted(
        (span for span, count in votes.items() if count >= min_votes),
        key=lambda span: (-votes[span], span[0] - span[1], span[0]),
    )
    return [
        Entity.in_note(text, s, e, t, round(votes[(s, e, t)] / readers, 4))
        for s, e, t in sorted(non_overlapping(ranked))
    ]  # fmt: skip
