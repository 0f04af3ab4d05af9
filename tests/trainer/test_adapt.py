"""Masked-LM adaptation of the backbone on a tiny encoder and a few notes."""

import json

import torch
from transformers import AutoModel, AutoModelForTokenClassification
from typer.testing import CliRunner

from streams.ops.cli import app
from streams.ops.demo_corpus import demo_notes


def test_adapt_writes_a_backbone_that_learned_the_text_and_a_student_can_start_from(
    tmp_path, tiny_backbone, monkeypatch
):
    monkeypatch.setenv("CLINSTREAM_STUDENT_BACKBONE", str(tiny_backbone))
    monkeypatch.setenv("CLINSTREAM_STUDENT_MAX_LENGTH", "64")
    monkeypatch.setenv("CLINSTREAM_ADAPT_STEPS", "60")
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
