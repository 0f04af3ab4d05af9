"""Masked-LM adaptation of the backbone on a tiny encoder and a few notes."""

import json

import torch
from transformers import AutoModel, AutoModelForTokenClassification
from typer.testing import CliRunner

from models.settings import StudentSettings
from streams.ops.cli import app
from streams.ops.demo_corpus import demo_notes
from trainer.adapt import adapt_backbone
from trainer.settings import AdaptSettings


def test_adapt_writes_a_backbone_that_learned_the_text_and_a_student_can_start_from(
    tmp_path, tiny_backbone, monkeypatch
):
    monkeypatch.setenv("CLINSTREAM_STUDENT_BACKBONE", str(tiny_backbone))
    monkeypatch.setenv("CLINSTREAM_STUDENT_MAX_LENGTH", "64")
    monkeypatch.setenv("CLINSTREAM_ADAPT_STEPS", "60")
    monkeypatch.setenv("CLINSTREAM_ADAPT_HEAD_WARMUP_STEPS", "10")
    monkeypatch.setenv("CLINSTREAM_ADAPT_BATCH_SIZE", "8")
    monkeypatch.setenv("CLINSTREAM_ADAPT_LEARNING_RATE", "1e-3")
    monkeypatch.setenv("CLINSTREAM_ADAPT_HELD_OUT", "0.2")
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps({"note_id": n.note_id, "text": n.text}) + "\n"
                             for n in demo_notes(30, seed=3, prefix="adapt")))  # fmt: skip
    output = tmp_path / "adapted"
    result = CliRunner().invoke(
        app, ["adapt", "--corpus", str(notes), "--output", str(output)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    report = json.loads((output / "adapt.json").read_text())
    assert report["steps"] == 60 and report["held_out_windows"] >= 1
    # Held-out windows of the same kind of text: the masked words are better predicted.
    assert report["held_out_loss_after"] < report["held_out_loss_before"]
    # A backbone like any other: a token classifier starts from its encoder, which changed.
    student = AutoModelForTokenClassification.from_pretrained(output, num_labels=9)
    original = AutoModel.from_pretrained(tiny_backbone)
    adapted_layer = student.bert.encoder.layer[0].attention.self.query.weight
    assert not torch.equal(adapted_layer, original.encoder.layer[0].attention.self.query.weight)


def test_while_the_new_head_warms_up_the_encoder_is_left_as_it_was(tmp_path, tiny_backbone):
    texts = [n.text for n in demo_notes(8, seed=5, prefix="warmup")]
    output = tmp_path / "adapted"
    adapt_backbone(
        texts,
        output,
        AdaptSettings(steps=4, head_warmup_steps=4, batch_size=4, learning_rate=1e-3),
        StudentSettings(backbone=str(tiny_backbone), max_length=64),
    )
    adapted = AutoModel.from_pretrained(output).state_dict()
    original = AutoModel.from_pretrained(tiny_backbone).state_dict()
    # The pooler is not part of a masked-LM checkpoint: it starts random on every load.
    encoder = [name for name in original if not name.startswith("pooler.")]
    assert encoder and all(torch.equal(adapted[name], original[name]) for name in encoder)
