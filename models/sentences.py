"""One sentence splitter for pairing, assertion (ConText) and the lexicon teacher, and where a
mention must end. A sentence ends at . ! ? or ; followed by whitespace, or at a blank line:
clinical notes state causality and context locally ("rash after starting amoxicillin", "denies
fever"), so each of those looks inside one sentence; a single line break is often a wrap, not
an end. A mention ends at a line that starts a new item (`item_pieces`)."""

import re
from bisect import bisect_right
from collections.abc import Callable

# A section heading ("REVIEW OF SYSTEMS:") starts a sentence too, whatever precedes it: a
# note's Family History must not run on into its Review of Systems.
_SENTENCE_END = re.compile(r"[.!?;]\s|\n\s*\n|(?<=[,\n])(?=[A-Z][A-Z/&() -]{2,}[A-Z]:)")
# A line break that starts a new item: a blank line, or a line that opens with a bullet, a
# number or a capital (a list of diagnoses, one OBX value a line). A wrap goes on in lower case
# ("shortness of\nbreath").
_ITEM_BREAK = re.compile(r"\n\s*(?=$|\n|[-*•\d]|[A-Z])")


def sentence_starts(text: str) -> list[int]:
    """Offsets where each sentence begins (the first is 0)."""
    return sorted({0, *(match.end() for match in _SENTENCE_END.finditer(text))})


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence, end exclusive, together covering the text."""
    starts = sentence_starts(text)
    return list(zip(starts, [*starts[1:], len(text)], strict=True))


def sentence_index(text: str) -> Callable[[int], int]:
    """offset -> index of the sentence holding it."""
    starts = sentence_starts(text)
    return lambda offset: bisect_right(starts, offset) - 1


def item_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The span [start, end) cut at item breaks, each piece trimmed of whitespace: a mention
    never runs from one list item (or OBX line) into the next."""
    cuts = [m.start() for m in _ITEM_BREAK.finditer(text, start, end)]
    pieces = []
    for piece_start, piece_end in zip([start, *cuts], [*cuts, end], strict=True):
        piece = text[piece_start:piece_end]
        stripped = piece.strip()
        if stripped:
            offset = piece_start + piece.index(stripped)
            pieces.append((offset, offset + len(stripped)))
    return pieces
