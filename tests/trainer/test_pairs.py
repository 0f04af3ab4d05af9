"""Learned drug→ADE pairing: fitting, saving with a student, serving, and the command."""

import shutil

import pytest
from typer.testing import CliRunner

from models.decoding import annotate
from models.labels import EntityType
from models.onnx_student import OnnxStudent
from models.pairing import PAIRING_FILE, PairModel
from models.spans import AdePair, Annotations, Entity
from streams.ops.cli import app
from tests.trainer.test_bench import write_made_up_corpora
from trainer.corpora import Document
from trainer.evaluate import evaluate
from trainer.pairs import fit_pair_model, repaired

DRUGS = ["amoxicillin", "warfarin", "lisinopril", "metformin"]
EFFECTS = ["rash", "bleeding", "cough", "nausea"]


def _mention(text: str, word: str, entity_type: EntityType) -> Entity:
    start = text.index(word)
    return Entity(type=entity_type, start=start, end=start + len(word), text=word, confidence=1.0)


def _document(i: int) -> Document:
    """Three kinds of sentence: one drug; two drugs that both caused the effect; and a drug
    named nearer the effect than its cause, which the nearest-drug rule pairs wrongly."""
    drug, other, effect = DRUGS[i % 4], DRUGS[(i + 1) % 4], EFFECTS[i % 4]
    kind = i % 3
    if kind == 0:
        text = f"Patient {i} developed {effect} days after starting {drug}."
    elif kind == 1:
        text = f"Patient {i} developed {effect} days after starting {drug} and {other}."
    else:
        text = f"Patient {i} on {other} developed {effect} days after starting {drug}."
    drugs = [_mention(text, name, EntityType.DRUG) for name in (drug, other) if name in text]
    adverse = _mention(text, effect, EntityType.ADE)
    causes = drugs if kind == 1 else drugs[:1]
    pairs = [AdePair(drug=d, effect=adverse, confidence=1.0) for d in causes]
    labels = Annotations(entities=sorted([*drugs, adverse], key=lambda e: e.start), ade_pairs=pairs)
    return Document(doc_id=str(i), text=text, labels=labels)


def test_learned_pairing_pairs_what_the_nearest_drug_rule_misses():
    train = [_document(i) for i in range(60)]
    dev = [_document(i) for i in range(60, 90)]
    model = fit_pair_model(train, trained_on="made up")
    gold = [d.labels for d in dev]

    def pair_f1(pair_model: PairModel | None) -> float:
        predicted = repaired(dev, gold, pair_model)
        return evaluate(gold, predicted, {t: t.value for t in EntityType}).ade_pairs.f1

    assert pair_f1(model) == 1.0
    assert pair_f1(None) < 0.8


def test_pairing_needs_candidates_of_both_outcomes():
    with pytest.raises(ValueError, match="both paired and not paired"):
        fit_pair_model([_document(0), _document(3)], trained_on="only positives")


def test_annotate_pairs_with_the_model_it_is_given():
    document = _document(1)
    entities = document.labels.entities
    assert len(annotate(document.text, entities).ade_pairs) == 1  # the nearest drug only
    everything = PairModel(weights={}, bias=5.0, trained_on="accepts all")
    nothing = everything.model_copy(update={"bias": -5.0})
    assert len(annotate(document.text, entities, everything).ade_pairs) == 2
    assert annotate(document.text, entities, nothing).ade_pairs == []


def test_a_student_serves_with_the_pairing_learned_into_its_folder(tiny_student, tmp_path):
    write_made_up_corpora(tmp_path / "corpora")
    student = tmp_path / "student"
    shutil.copytree(tiny_student, student)
    assert OnnxStudent(student).pair_model is None
    result = CliRunner().invoke(
        app,
        ["learn-pairs", "--model", str(student),
         "--data", str(tmp_path / "corpora" / "phee" / "train.json"),
         "--dev", str(tmp_path / "corpora" / "phee" / "dev.json")],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "22 candidates (16 paired) in 16 texts" in output
    assert "│ learned │ 1.000 │ 1.000 │ 1.000 │ 8 │" in output
    learned = OnnxStudent(student).pair_model
    assert learned == PairModel.load(student) and learned.trained_on == "train.json"
    assert (student / PAIRING_FILE).is_file()


def test_learn_pairs_refuses_a_folder_that_is_no_student(tmp_path):
    write_made_up_corpora(tmp_path / "corpora")
    with pytest.raises(FileNotFoundError, match="not an exported student"):
        CliRunner().invoke(
            app,
            ["learn-pairs", "--model", str(tmp_path),
             "--data", str(tmp_path / "corpora" / "phee" / "train.json")],
            catch_exceptions=False,
        )  # fmt: skip
