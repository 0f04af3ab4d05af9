import pytest
from transformers import AutoTokenizer

from models.labels import IGNORE_INDEX, LABEL_TO_ID
from models.settings import DEFAULT_BACKBONE
from models.windows import encode_windows, first_subword_positions, label_windows, word_spans
from streams.ops.demo_corpus import long_demo_note


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(DEFAULT_BACKBONE)


def test_long_note_is_covered_by_overlapping_windows_with_exact_offsets(tokenizer):
    text = long_demo_note(seed=3).text
    windows = encode_windows(tokenizer, [text], max_length=64, stride=16)
    assert len(windows.input_ids) > 10
    (spans,) = word_spans(windows, 1)
    covered = set()
    for start, end in spans.values():
        covered.update(range(start, end))
    # Every visible character of the note falls in some word: nothing is dropped.
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered
    # The last window reaches the end of the note.
    assert max(end for _, end in spans.values()) == len(text.rstrip())


def test_each_word_is_labelled_once_per_window_that_holds_its_first_subword(tokenizer):
    text = "Patient on hydrochlorothiazide developed hyponatremia."
    windows = encode_windows(tokenizer, [text], max_length=8, stride=3)
    firsts = first_subword_positions(windows, word_spans(windows, 1))
    for window, words in enumerate(firsts):
        pieces = tokenizer.convert_ids_to_tokens(windows.input_ids[window])
        for word, piece in zip(words, pieces, strict=True):
            if word is not None:
                assert not piece.startswith("##")


def test_labels_align_bio_to_words_and_skip_sub_words(tokenizer):
    text = "Started hydrochlorothiazide; now severe hyponatremia."
    drug = (text.index("hydro"), text.index(";"), "DRUG")
    effect = (text.index("severe"), text.index("."), "ADE")
    windows = encode_windows(tokenizer, [text], max_length=64, stride=8)
    (labels,) = label_windows(windows, [[drug, effect]])
    by_start = {
        start: label
        for (start, end), label in zip(windows.offsets[0], labels, strict=True)
        if end > start
    }
    assert by_start[0] == LABEL_TO_ID["O"]
    assert by_start[drug[0]] == LABEL_TO_ID["B-DRUG"]
    assert by_start[effect[0]] == LABEL_TO_ID["B-ADE"]
    assert by_start[text.index("hypo")] == LABEL_TO_ID["I-ADE"]
    assert labels[0] == IGNORE_INDEX  # [CLS]
    pieces = tokenizer.convert_ids_to_tokens(windows.input_ids[0])
    continued = [label for piece, label in zip(pieces, labels, strict=True) if piece[:2] == "##"]
    assert continued and all(label == IGNORE_INDEX for label in continued)


def test_stride_must_leave_room_for_new_tokens(tokenizer):
    with pytest.raises(ValueError, match="stride"):
        encode_windows(tokenizer, ["text"], max_length=32, stride=30)
