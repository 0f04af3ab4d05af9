"""An encoder published as a zip split across wheels: joined once, then loaded like any other."""

import zipfile

import pytest

from models.backbones import SPLIT_PACKAGES, join_pieces
from models.network import build_student
from models.onnx_student import OnnxStudent
from models.settings import DEFAULT_BACKBONE, StudentSettings
from streams.ops.demo_corpus import demo_notes
from trainer.corpora import Document
from trainer.settings import TrainingSettings
from trainer.train import train_student


def test_pieces_are_joined_into_a_folder_with_the_model_at_its_top(tiny_mpnet, tmp_path):
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for file in tiny_mpnet.iterdir():
            out.write(file, f"all-tiny/{file.name}")
        out.writestr("all-tiny/1_Pooling/config.json", '{"pooling_mode_mean_tokens": true}')
    whole = archive.read_bytes()
    pieces = []
    for index, start in enumerate(range(0, len(whole), len(whole) // 3 + 1)):
        pieces.append(tmp_path / f"model.zip.{index:03d}")
        pieces[-1].write_bytes(whole[start : start + len(whole) // 3 + 1])
    assert len(pieces) == 3

    folder = tmp_path / "cache" / "backbones" / "all-tiny"
    join_pieces(pieces, folder)
    assert (folder / "config.json").is_file() and (folder / "1_Pooling").is_dir()
    assert build_student(str(folder)).config.model_type == "mpnet"

    with pytest.raises(zipfile.BadZipFile):  # a piece missing fails loudly, writes nothing
        join_pieces(pieces[:2], tmp_path / "cache" / "backbones" / "broken")
    assert not (tmp_path / "cache" / "backbones" / "broken").exists()


def test_the_bundled_minilm_answers_to_its_name():
    assert StudentSettings(backbone="all-minilm-l6-v2").backbone == DEFAULT_BACKBONE


def test_a_packaged_name_whose_pieces_are_not_installed_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINSTREAM_CODES_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(SPLIT_PACKAGES, "all-tiny", ("clinstream-no-such-piece-001",))
    with pytest.raises(RuntimeError, match=r"piece-001 is not installed: `pip install -e .`"):
        StudentSettings(backbone="all-tiny")


def test_a_student_on_an_mpnet_encoder_trains_exports_and_extracts(tiny_mpnet, teacher, tmp_path):
    notes = [note.text for note in demo_notes(16, seed=2, prefix="mpnet")]
    documents = [Document(doc_id=str(i), text=text, labels=teacher.label(text))
                 for i, text in enumerate(notes)]  # fmt: skip
    train_student(documents, tmp_path, "lexicon",
                  student=StudentSettings(backbone=str(tiny_mpnet), max_length=48, stride=8),
                  training=TrainingSettings(epochs=1))  # fmt: skip
    student = OnnxStudent(tmp_path)
    found = student.extract(notes[:4])
    assert len(found) == 4
    for text, annotations in zip(notes[:4], found, strict=True):
        assert all(text[e.start : e.end] == e.text for e in annotations.entities)
