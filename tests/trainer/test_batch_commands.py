"""label -> train -> export -> extract -> evaluate, through the `clinstream` command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from models.settings import DEFAULT_BACKBONE
from streams.ops.cli import app
from streams.ops.demo_corpus import demo_notes
from streams.repository import ModelRepository
from trainer.bench.runs import recipe
from trainer.distil import teachers_recipe
from trainer.teachers.lexicon import LexiconTeacher


@pytest.fixture
def notes_file(tmp_path):
    path = tmp_path / "notes.jsonl"
    notes = demo_notes(12, seed=5, prefix="batch")
    path.write_text("".join(json.dumps({"note_id": n.note_id, "text": n.text}) + "\n"
                            for n in notes))  # fmt: skip
    return path, notes


def write_brat(folder, notes, teacher):
    """Gold in BRAT standoff, here the lexicon's own labels: plumbing, not accuracy."""
    folder.mkdir()
    for note in notes:
        (folder / f"{note.note_id}.txt").write_text(note.text)
        annotations = teacher.label(note.text)
        lines = [f"T{i}\t{e.type.value} {e.start} {e.end}\t{e.text}"
                 for i, e in enumerate(annotations.entities)]  # fmt: skip
        index = {(e.start, e.end): i for i, e in enumerate(annotations.entities)}
        lines += [f"R{i}\tADE Arg1:T{index[(p.drug.start, p.drug.end)]} "
                  f"Arg2:T{index[(p.effect.start, p.effect.end)]}"
                  for i, p in enumerate(annotations.ade_pairs)]  # fmt: skip
        (folder / f"{note.note_id}.ann").write_text("\n".join(lines) + "\n")


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_batch_commands_end_to_end(tmp_path, notes_file, tiny_backbone, monkeypatch):
    monkeypatch.setenv("CLINSTREAM_STUDENT_BACKBONE", str(tiny_backbone))
    monkeypatch.setenv("CLINSTREAM_STUDENT_MAX_LENGTH", "64")
    monkeypatch.setenv("CLINSTREAM_STUDENT_STRIDE", "16")
    monkeypatch.setenv("CLINSTREAM_TRAIN_EPOCHS", "2")
    monkeypatch.setenv("CLINSTREAM_DATA_DIR", str(tmp_path / "data"))
    notes_path, notes = notes_file
    labels, run_dir, repo = tmp_path / "labels.jsonl", tmp_path / "run", tmp_path / "repo"

    run("label", "--teacher", "lexicon", "--input", str(notes_path), "--output", str(labels))
    lines = [json.loads(line) for line in labels.read_text().splitlines()]
    assert [line["note_id"] for line in lines] == [n.note_id for n in notes]
    assert all(line["text"] and line["model_name"] == "lexicon" for line in lines)
    assert all(line["text"][e["start"] : e["end"]] == e["text"]
               for line in lines for e in line["entities"])  # fmt: skip

    run("train", "--labels", str(labels), "--output", str(run_dir))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # A tenth of the teacher labels is held out for early stopping and the operating point.
    assert (metrics["train_documents"], metrics["dev_documents"]) == (11, 1)
    assert len(metrics["epochs"]) == 2
    assert (run_dir / "weights" / "config.json").is_file()
    assert (run_dir / "model.onnx").is_file()

    # Several teachers' labels, a backbone named: stop 43's MiniLM recipe (the sentence head's
    # loss weighted down, a soup of two students), unless the settings name their own.
    several = tmp_path / "several"
    run("train", "--labels", str(labels), "--labels", str(labels), "--output", str(several))
    trained_with = json.loads((several / "config.json").read_text())["training"]
    assert (trained_with["sentence_loss_weight"], trained_with["label_error_folds"]) == (0.3, 0)
    assert trained_with["soup_seeds"] == [5]
    assert trained_with["ade_needs_drug"] is True  # a teacher's drugless ADE mentions left out
    members = json.loads((several / "metrics.json").read_text())["epochs"]
    assert [epoch["member"] for epoch in members] == [0, 0, 1, 1]
    monkeypatch.setenv("CLINSTREAM_TRAIN_SENTENCE_LOSS_WEIGHT", "1.0")
    monkeypatch.setenv("CLINSTREAM_TRAIN_SOUP_SEEDS", "[]")
    named = teachers_recipe(3)[1]
    assert (named.sentence_loss_weight, named.soup_seeds) == (1.0, [])
    monkeypatch.delenv("CLINSTREAM_TRAIN_SENTENCE_LOSS_WEIGHT")
    monkeypatch.delenv("CLINSTREAM_TRAIN_SOUP_SEEDS")

    run("export", str(run_dir), "--repository", str(repo))
    assert ModelRepository(repo, "student").versions() == [1]

    extractions = tmp_path / "extractions.jsonl"
    run("extract", "--model", str(run_dir), "--input", str(notes_path), "--output",
        str(extractions))  # fmt: skip
    extracted = [json.loads(line) for line in extractions.read_text().splitlines()]
    assert len(extracted) == 12 and all("text" not in line for line in extracted)

    gold = tmp_path / "gold"
    write_brat(gold, notes, LexiconTeacher())
    report = json.loads(run("evaluate", "--gold", str(gold), "--format", "brat",
                            "--predictions", str(extractions), "--json"))  # fmt: skip
    assert set(report) >= {"strict", "lenient", "ade_pairs"}
    assert set(report["strict"]["micro"]) == {"p", "r", "f1", "support"}

    teacher_report = json.loads(run("evaluate", "--gold", str(gold), "--format", "brat",
                                    "--teacher", "lexicon", "--json"))  # fmt: skip
    assert teacher_report["strict"]["micro"]["f1"] == 1.0
    assert teacher_report["ade_pairs"]["f1"] == 1.0


def test_several_teachers_train_mpnet_joined_from_its_installed_pieces(tmp_path, monkeypatch):
    """The several-teacher default (README "A larger encoder: MPNet"): MPNet, 3 epochs at
    5e-5; one teacher keeps MiniLM. The real pieces are joined once into the cache."""
    monkeypatch.delenv("CLINSTREAM_STUDENT_BACKBONE", raising=False)
    monkeypatch.setenv("CLINSTREAM_CODES_CACHE_DIR", str(tmp_path))
    student, training = teachers_recipe(3)
    assert json.loads((Path(student.backbone) / "config.json").read_text())["model_type"] == "mpnet"
    assert Path(student.backbone) == tmp_path / "backbones" / "all-mpnet-base-v2"
    assert (training.epochs, training.learning_rate, training.sentence_loss_weight,
            training.soup_seeds) == (3, 5e-5, 0.3, [])  # fmt: skip
    assert teachers_recipe(3)[0].backbone == student.backbone  # joined once, then found
    assert recipe(training, student).endswith("backbone all-mpnet-base-v2")  # the bench's footer
    assert teachers_recipe(1)[0].backbone == DEFAULT_BACKBONE


def test_train_from_gold_with_a_dev_set_stops_early(tmp_path, tiny_backbone, monkeypatch):
    monkeypatch.setenv("CLINSTREAM_STUDENT_BACKBONE", str(tiny_backbone))
    monkeypatch.setenv("CLINSTREAM_STUDENT_MAX_LENGTH", "64")
    monkeypatch.setenv("CLINSTREAM_STUDENT_STRIDE", "16")
    monkeypatch.setenv("CLINSTREAM_TRAIN_EPOCHS", "6")
    monkeypatch.setenv("CLINSTREAM_TRAIN_PATIENCE", "1")
    monkeypatch.setenv("CLINSTREAM_TRAIN_LEARNING_RATE", "1e-9")  # nothing to gain: stops
    gold = tmp_path / "gold"
    write_brat(gold, demo_notes(6, seed=8, prefix="gold"), LexiconTeacher())
    run("train", "--gold", str(gold), "--format", "brat", "--dev", str(gold),
        "--output", str(tmp_path / "run"))  # fmt: skip
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["source"] == "gold"
    assert len(metrics["epochs"]) < 6
    assert all(epoch["dev_strict_micro_f1"] is not None for epoch in metrics["epochs"])


def test_training_again_in_another_process_writes_the_same_weights(
    tmp_path, notes_file, tiny_backbone
):
    """Figures in the README are reproducible: the same command twice, in fresh processes
    with their own hash seeds, trains a bit-identical soup."""
    notes_path, _ = notes_file
    labels = tmp_path / "labels.jsonl"
    run("label", "--teacher", "lexicon", "--input", str(notes_path), "--output", str(labels))
    weights = []
    for hash_seed in ("1", "2"):
        output = tmp_path / f"run-{hash_seed}"
        env = os.environ | {
            "PYTHONHASHSEED": hash_seed,
            "CLINSTREAM_DATA_DIR": str(tmp_path / "data"),
            "CLINSTREAM_STUDENT_BACKBONE": str(tiny_backbone),
            "CLINSTREAM_STUDENT_MAX_LENGTH": "64",
            "CLINSTREAM_TRAIN_EPOCHS": "2",
        }
        subprocess.run(
            [sys.executable, "-c", "from streams.ops.cli import app; app()", "train",
             "--labels", str(labels), "--labels", str(labels), "--output", str(output)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        weights.append(load_file(output / "weights" / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])
