"""One sentence splitter for pairing, assertion (ConText) and the lexicon teacher: a sentence
ends at . ! ? or ; followed by whitespace, or at a blank line. Clinical notes state causality and
context locally ("rash after starting amoxicillin", "denies fever"), so each of those looks
inside one sentence; a single line break is often a wrap, not an end."""

import re
from bisect import bisect_right
from collections.abc import Callable

_SENTENCE_END = re.compile(r"[.!?;]\s|\n\s*\n")


def sentence_starts(text: str) -> list[int]:
    """Offsets where each sentence begins (the first is 0)."""
    return [0, *(match.end() for match in _SENTENCE_END.finditer(text))]


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence, end exclusive, together covering the text."""
    starts = sentence_starts(text)
    return list(zip(starts, [*starts[1:], len(text)], strict=True))


def sentence_index(text: str) -> Callable[[int], int]:
    """offset -> index of the sentence holding it."""
    starts = sentence_starts(text)
    return lambda offset: bisect_right(starts, offset) - 1
