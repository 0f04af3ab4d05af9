"""Long notes cut into chunks at paragraph, line or sentence ends, and joined back.

A 20,000-word discharge summary is a real note. Cut into chunks of bounded size, each is a
bounded piece of work for one inference request; joined, the entities move back to note
offsets with their negation and drug→effect pairs, which mean what they mean for a short note:
both are bounded by sentences, which a cut at a sentence end keeps whole. (Pairing is the
student's own, learned or not, so the join must not redo it.)
"""

import re

from models.spans import Annotations, Entity

# Where a chunk may end, best first: a blank line, a line end, a sentence end, any space.
_CUTS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"[.!?;]\s"), re.compile(r"\s"))


def chunk_spans(text: str, max_chars: int) -> list[tuple[int, int]]:
    """[start, end) spans that tile the text, each at most `max_chars` long.

    A cut is taken in the second half of the allowed length, at the best boundary found
    there; text with no boundary at all is cut at the limit.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > max_chars:
        end = start + max_chars
        end = next(
            (
                last.end()
                for cut in _CUTS
                if (last := _last_match(cut, text, start + max_chars // 2, end)) is not None
            ),
            end,
        )
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    return spans


def _last_match(pattern: re.Pattern[str], text: str, start: int, end: int) -> re.Match | None:
    last = None
    for last in pattern.finditer(text, start, end):  # noqa: B007 (the last one is wanted)
        pass
    return last


def join_chunks(text: str, spans: list[tuple[int, int]], chunks: list[Annotations]) -> Annotations:
    """Annotations of each chunk -> annotations of the whole note, at note offsets."""
    if len(spans) == 1:
        return chunks[0]

    def moved(entity: Entity, start: int) -> Entity:
        return entity.model_copy(update={"start": entity.start + start, "end": entity.end + start})

    return Annotations(
        entities=[
            moved(entity, start)
            for (start, _end), annotations in zip(spans, chunks, strict=True)
            for entity in annotations.entities
        ],
        ade_pairs=[
            pair.model_copy(
                update={"drug": moved(pair.drug, start), "effect": moved(pair.effect, start)}
            )
            for (start, _end), annotations in zip(spans, chunks, strict=True)
            for pair in annotations.ade_pairs
        ],
    )
