import pytest
import torch

from models.card import ONNX_FILE, StudentCard
from models.labels import IGNORE_INDEX, LABEL_TO_ID, OUTSIDE, EntityType
from models.settings import StudentSettings
from models.spans import Annotations, Entity
from streams.ops.demo_corpus import demo_notes
from streams.repository import ModelRepository
from tests.conftest import TINY_TRAINING
from trainer.corpora import Document
from trainer.distil import distil_student, with_confident_additions, with_drugless_ade_dropped
from trainer.settings import TrainingSettings
from trainer.targets import sample_outside


def test_distilled_student_directory_is_self_contained(tiny_student):
    card = StudentCard.load(tiny_student)
    assert card.teacher == "lexicon"
    assert (card.max_length, card.stride) == (64, 16)
    assert (tiny_student / ONNX_FILE).stat().st_size > 0
    assert (tiny_student / "tokenizer.json").is_file()


def test_publish_adds_the_next_version_with_the_backend_entry_point(tiny_student, tmp_path):
    assert ModelRepository(tmp_path, "student").versions() == []
    assert ModelRepository(tmp_path, "student").publish(tiny_student) == 1
    assert ModelRepository(tmp_path, "student").publish(tiny_student) == 2
    model_dir = tmp_path / "student"
    assert ModelRepository(tmp_path, "student").versions() == [1, 2]
    assert (model_dir / "config.pbtxt").is_file()
    for version in ("1", "2"):
        assert (model_dir / version / "model.py").is_file()
        assert (model_dir / version / ONNX_FILE).is_file()
    assert not list(model_dir.glob(".staging-*"))


def test_publish_refuses_a_directory_that_is_not_a_student(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an exported student"):
        ModelRepository(tmp_path / "repo", "student").publish(tmp_path)


def test_self_training_adds_confident_student_mentions_to_the_teacher_labels(
    tiny_backbone, teacher, tmp_path
):
    """One self-training round trains a second student; its source says so."""
    notes = demo_notes(24, seed=2, prefix="self")
    documents = [
        Document(doc_id=n.note_id, text=n.text, labels=teacher.label(n.text)) for n in notes
    ]
    training = TINY_TRAINING.model_copy(
        update={"epochs": 3, "self_training_rounds": 1, "self_training_threshold": 0.5,
                "o_token_keep": 0.5}
    )  # fmt: skip
    metrics = distil_student(
        documents,
        tmp_path,
        teacher.name,
        dev=documents[:4],
        student=StudentSettings(backbone=str(tiny_backbone), max_length=64, stride=16),
        training=training,
    )
    assert metrics.source == "lexicon+self-training"
    assert StudentCard.load(tmp_path).teacher == "lexicon+self-training"


def test_confident_additions_never_overlap_a_teacher_mention():
    text = "rash after amoxicillin and nausea"
    labelled = Entity(type=EntityType.DRUG, start=11, end=22, text="amoxicillin", confidence=1.0)
    document = Document(
        doc_id="n", text=text, labels=Annotations(entities=[labelled], ade_pairs=[])
    )
    found = [
        Entity(type=EntityType.SYMPTOM, start=0, end=4, text="rash", confidence=0.95),
        Entity(type=EntityType.DISEASE, start=11, end=33, text=text[11:33], confidence=0.99),
        Entity(type=EntityType.SYMPTOM, start=27, end=33, text="nausea", confidence=0.6),
    ]
    merged = with_confident_additions(document, found, threshold=0.9)
    assert [(e.start, e.end) for e in merged.labels.entities] == [(0, 4), (11, 22)]


def test_a_notes_adverse_effects_are_dropped_from_labels_naming_no_drug():
    text = "rash after amoxicillin"
    rash = Entity(type=EntityType.ADE, start=0, end=4, text="rash", confidence=1.0)
    drug = Entity(type=EntityType.DRUG, start=11, end=22, text="amoxicillin", confidence=1.0)
    alone = Annotations(entities=[rash], ade_pairs=[])
    named = Annotations(entities=[rash, drug], ade_pairs=[])
    document = Document(doc_id="n", text=text, labels=named, readings=[named, alone])
    kept = with_drugless_ade_dropped(document)
    assert kept.labels == named
    assert [[e.text for e in r.entities] for r in kept.readings] == [["rash", "amoxicillin"], []]
    assert TrainingSettings().ade_needs_drug


def test_outside_sampling_ignores_only_o_tokens():
    target = torch.tensor([[LABEL_TO_ID[OUTSIDE]] * 200 + [LABEL_TO_ID["B-DRUG"]] * 50])
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(sample_outside(target, 1.0, generator), target)
    sampled = sample_outside(target, 0.5, generator)
    assert torch.equal(sampled[0, 200:], target[0, 200:])
    assert 60 < int((sampled[0, :200] == IGNORE_INDEX).sum()) < 140


def test_confident_additions_join_every_teachers_reading_too():
    """With soft targets, training reads the readings: an addition missing from them would
    still be taught as O by every teacher."""
    text = "rash after amoxicillin"
    drug = Entity(type=EntityType.DRUG, start=11, end=22, text="amoxicillin", confidence=1.0)
    reading = Annotations(entities=[drug], ade_pairs=[])
    empty = Annotations(entities=[], ade_pairs=[])
    document = Document(doc_id="n", text=text, labels=reading, readings=[reading, empty])
    rash = Entity(type=EntityType.SYMPTOM, start=0, end=4, text="rash", confidence=0.95)
    merged = with_confident_additions(document, [rash], threshold=0.9)
    assert [[e.text for e in r.entities] for r in merged.readings] == [
        ["rash", "amoxicillin"], ["rash"]
    ]  # fmt: skip
