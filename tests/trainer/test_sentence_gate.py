"""The sentence head: its targets, its operating point, and the ADE mentions it gates."""

import numpy as np
import pytest
from transformers import AutoTokenizer

from models import onnx_student
from models.decoding import decode_windows
from models.labels import LABEL_TO_ID, LABELS, EntityType
from models.onnx_student import OnnxStudent
from models.settings import InferenceSettings, StudentSettings
from models.spans import Annotations, Entity
from models.windows import encode_windows
from tests.conftest import TINY_TRAINING
from trainer.corpora import Document
from trainer.sentence_gate import ade_shares, operating_point, sentence_targets
from trainer.train import train_student

# Sentence 0 reports an adverse event; sentence 1 names a disease the drug treats.
TEXT = "Rash after amoxicillin. Amoxicillin for otitis."
RASH, AMOXICILLIN, OTITIS = (0, 4), (11, 22), (40, 46)


def _reading(*spans: tuple[tuple[int, int], EntityType]) -> Annotations:
    return Annotations(
        entities=[Entity(type=t, start=s, end=e, text=TEXT[s:e], confidence=1.0)
                  for (s, e), t in spans],
        ade_pairs=[],
    )  # fmt: skip


READINGS = [
    _reading((RASH, EntityType.ADE), (AMOXICILLIN, EntityType.DRUG)),
    _reading((RASH, EntityType.ADE), (OTITIS, EntityType.ADE)),  # an indication taken for one
    _reading((RASH, EntityType.ADE)),
]
DOCUMENT = Document(doc_id="n", text=TEXT, labels=READINGS[0], readings=READINGS)


def _train(tiny_backbone, folder, **training):
    """A tiny student of eight copies of DOCUMENT, with these training settings."""
    documents = [DOCUMENT.model_copy(update={"doc_id": str(i)}) for i in range(8)]
    return train_student(
        documents, folder, "three readings",
        student=StudentSettings(backbone=str(tiny_backbone), max_length=64, stride=16),
        training=TINY_TRAINING.model_copy(update=training),
    )  # fmt: skip


def test_a_sentences_target_is_the_share_of_readings_with_an_ade_in_it(tiny_backbone):
    assert ade_shares(DOCUMENT) == {0: 1.0, 1: pytest.approx(1 / 3)}
    windows = encode_windows(AutoTokenizer.from_pretrained(tiny_backbone), [TEXT], 64, 16)
    (row,) = sentence_targets(windows, [DOCUMENT]).tolist()
    by_token = [
        (start, target)
        for word, (start, _end), target in zip(
            windows.word_ids[0], windows.offsets[0], row, strict=True
        )
        if word is not None
    ]
    assert {target for start, target in by_token if start < 23} == {1.0}
    later = [target for start, target in by_token if start > 23]
    assert later == pytest.approx([1 / 3] * len(later))
    # Special and padding tokens do not count.
    assert row[0] == -1 and len(by_token) < len(row)


def _probabilities(tiny_backbone, reporting: tuple[float, float]):
    """Windows of TEXT whose every word is an ADE, each sentence reporting one with the
    given probability."""
    windows = encode_windows(AutoTokenizer.from_pretrained(tiny_backbone), [TEXT], 64, 16)
    outputs = np.zeros((1, len(windows.input_ids[0]), len(LABELS) + 1))
    pieces = zip(windows.word_ids[0], windows.offsets[0], strict=True)
    for position, (word, (start, _end)) in enumerate(pieces):
        if word is not None:
            outputs[0, position, LABEL_TO_ID["B-ADE"]] = 1
            outputs[0, position, -1] = reporting[start > 23]
    return windows, outputs


def test_ade_mentions_are_kept_only_in_sentences_that_reach_the_threshold(tiny_backbone):
    windows, outputs = _probabilities(tiny_backbone, (0.9, 0.2))
    (ungated,) = decode_windows([TEXT], windows, outputs)
    (gated,) = decode_windows([TEXT], windows, outputs, ade_threshold=0.5)
    assert {e.start for e in ungated.entities} > {e.start for e in gated.entities}
    assert gated.entities and all(e.end <= 23 for e in gated.entities)
    (none_gated,) = decode_windows([TEXT], windows, outputs, ade_threshold=0)
    assert none_gated == ungated


def test_an_ade_mention_is_kept_only_in_a_note_that_names_a_drug(tiny_backbone):
    windows, outputs = _probabilities(tiny_backbone, (0.9, 0.9))
    (drugless,) = decode_windows([TEXT], windows, outputs, ade_needs_drug=True)
    assert drugless.entities == []
    for position, (start, _end) in enumerate(windows.offsets[0]):
        if windows.word_ids[0][position] is not None and AMOXICILLIN[0] <= start < AMOXICILLIN[1]:
            outputs[0, position, LABEL_TO_ID["B-ADE"]] = 0
            outputs[0, position, LABEL_TO_ID["B-DRUG"]] = 1
    (named,) = decode_windows([TEXT], windows, outputs, ade_needs_drug=True)
    assert named == decode_windows([TEXT], windows, outputs)[0]
    assert {e.type for e in named.entities} == {EntityType.ADE, EntityType.DRUG}


def test_the_operating_point_matches_the_sentences_every_reading_agrees_on(tiny_backbone):
    # The head is sure of sentence 0 (all readings) and half sure of sentence 1 (one of three):
    # a threshold above 0.5 keeps only what the readings agree on.
    windows, outputs = _probabilities(tiny_backbone, (0.9, 0.5))
    threshold = operating_point([DOCUMENT], windows, outputs)
    assert 0.5 < threshold <= 0.9
    # Where every reading also finds an ADE in sentence 1, the lowest threshold keeping it wins.
    agreed = DOCUMENT.model_copy(update={"readings": [READINGS[1]] * 3})
    assert operating_point([agreed], windows, outputs) == 0.05


def test_a_student_learns_the_head_and_carries_its_operating_point(tiny_backbone, tmp_path):
    _train(tiny_backbone, tmp_path, epochs=1)
    student = OnnxStudent(tmp_path)
    assert student.ade_threshold == student.card.ade_sentence_threshold is not None
    # The setting overrides the card: 0 gates nothing, 1 every ADE mention.
    keep_all = OnnxStudent(tmp_path, InferenceSettings(ade_sentence_threshold=0))
    (everything,) = keep_all.extract([TEXT])
    (none,) = OnnxStudent(tmp_path, InferenceSettings(ade_sentence_threshold=1)).extract([TEXT])
    assert not any(e.type == EntityType.ADE for e in none.entities)
    assert [e for e in everything.entities if e.type != EntityType.ADE] == [
        e for e in none.entities
    ]


def test_the_student_decodes_with_the_drug_rule_its_settings_name(
    tiny_backbone, tmp_path, monkeypatch
):
    _train(tiny_backbone, tmp_path, epochs=1)
    asked = []

    def decode(*args):
        asked.append(args[-1])
        return decode_windows(*args)

    monkeypatch.setattr(onnx_student, "decode_windows", decode)
    OnnxStudent(tmp_path).extract([TEXT])
    OnnxStudent(tmp_path, InferenceSettings(ade_needs_drug=False)).extract([TEXT])
    assert asked == [True, False]


def test_a_student_without_the_head_gates_nothing(tiny_backbone, tmp_path):
    metrics = _train(tiny_backbone, tmp_path, epochs=1, sentence_head=False)
    assert metrics.epochs[0].sentence_loss is None
    student = OnnxStudent(tmp_path)
    assert student.card.ade_sentence_threshold is None
    assert student.session.get_outputs()[0].shape[-1] == len(LABELS)
    gated = OnnxStudent(tmp_path, InferenceSettings(ade_sentence_threshold=1))
    assert gated.extract([TEXT]) == student.extract([TEXT])


def test_the_heads_loss_weight_sets_how_much_the_head_learns(tiny_backbone, tmp_path):
    def head_losses(weight: float) -> list[float]:
        metrics = _train(
            tiny_backbone, tmp_path / str(weight), epochs=3, sentence_loss_weight=weight
        )
        return [epoch.sentence_loss for epoch in metrics.epochs]

    untaught, taught = head_losses(0.0), head_losses(1.0)
    assert untaught[0] == pytest.approx(taught[0])  # the same start: no step taken yet
    assert taught[-1] < untaught[-1]
