"""Tokenisation of notes into overlapping windows that keep character offsets.

A note longer than one window is cut into windows of `max_length` tokens that share `stride`
tokens, so no text is dropped and every word is seen whole in at least one window. Labels and
predictions are attached to words (the first sub-word of each word), keyed by the word's index
in the note, so windows can be merged back onto the original characters.
"""

from dataclasses import dataclass

from transformers import PreTrainedTokenizerFast

from models.labels import IGNORE_INDEX, LABEL_TO_ID, OUTSIDE


@dataclass(frozen=True)
class Windows:
    """Encoded windows of a batch of notes."""

    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    note_index: list[int]  # note each window belongs to
    word_ids: list[list[int | None]]  # word index in its note, per token (None: special/pad)
    offsets: list[list[tuple[int, int]]]  # character span in its note, per token


def encode_windows(
    tokenizer: PreTrainedTokenizerFast, texts: list[str], max_length: int, stride: int
) -> Windows:
    if stride >= max_length - 2:
        raise ValueError(
            f"stride ({stride}) must be smaller than max_length - 2 ({max_length - 2})"
        )
    encoding = tokenizer(
        texts,
        max_length=max_length,
        stride=stride,
        truncation=True,
        padding=True,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    return Windows(
        input_ids=encoding["input_ids"],
        attention_mask=encoding["attention_mask"],
        note_index=list(encoding["overflow_to_sample_mapping"]),
        word_ids=[encoding.word_ids(i) for i in range(len(encoding["input_ids"]))],
        offsets=[[tuple(span) for span in spans] for spans in encoding["offset_mapping"]],
    )


def word_spans(windows: Windows, notes: int) -> list[dict[int, tuple[int, int]]]:
    """Per note: the character span of every word, over all of the note's windows (one pass)."""
    spans: list[dict[int, tuple[int, int]]] = [{} for _ in range(notes)]
    for note, words, offsets in zip(
        windows.note_index, windows.word_ids, windows.offsets, strict=True
    ):
        note_spans = spans[note]
        for word, (start, end) in zip(words, offsets, strict=True):
            if word is None:
                continue
            known = note_spans.get(word)
            note_spans[word] = (
                (start, end) if known is None else (min(known[0], start), max(known[1], end))
            )
    return spans


def first_subword_positions(
    windows: Windows, spans_by_note: list[dict[int, tuple[int, int]]]
) -> list[list[int | None]]:
    """Per window and token: the word index where the token begins its word, else None.

    A window may begin in the middle of a word; such a token is not the word's first
    sub-word and carries no label, because the word is seen whole in the previous window.
    """
    positions: list[list[int | None]] = []
    for window, words in enumerate(windows.word_ids):
        spans = spans_by_note[windows.note_index[window]]
        positions.append(
            [
                word if word is not None and start == spans[word][0] else None
                for word, (start, _end) in zip(words, windows.offsets[window], strict=True)
            ]
        )
    return positions


def label_windows(
    windows: Windows, entities_by_note: list[list[tuple[int, int, str]]]
) -> list[list[int]]:
    """BIO label ids per window token, from character spans (start, end, type) of each note.

    A word takes the type of the entity its first character falls in: B- where the word holds
    the entity's start, I- after it. Only a word's first sub-word is labelled.
    """
    spans_by_note = word_spans(windows, len(entities_by_note))
    firsts = first_subword_positions(windows, spans_by_note)
    labels: list[list[int]] = []
    for window, words in enumerate(firsts):
        note = windows.note_index[window]
        row = []
        for word in words:
            if word is None:
                row.append(IGNORE_INDEX)
                continue
            word_start, word_end = spans_by_note[note][word]
            label = OUTSIDE
            for start, end, entity_type in entities_by_note[note]:
                if word_start <= start < word_end:
                    label = f"B-{entity_type}"
                    break
                if start < word_start < end:
                    label = f"I-{entity_type}"
                    break
            row.append(LABEL_TO_ID[label])
        labels.append(row)
    return labels
