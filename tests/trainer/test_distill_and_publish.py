import pytest

from models.card import ONNX_FILE, StudentCard
from trainer.versions import MODEL_NAME, publish_version, versions


def test_distilled_student_directory_is_self_contained(tiny_student):
    card = StudentCard.load(tiny_student)
    assert card.teacher == "lexicon"
    assert (card.max_length, card.stride) == (64, 16)
    assert (tiny_student / ONNX_FILE).stat().st_size > 0
    assert (tiny_student / "tokenizer.json").is_file()


def test_publish_adds_the_next_version_with_the_backend_entry_point(tiny_student, tmp_path):
    assert versions(tmp_path) == []
    assert publish_version(tiny_student, tmp_path) == 1
    assert publish_version(tiny_student, tmp_path) == 2
    model_dir = tmp_path / MODEL_NAME
    assert versions(tmp_path) == [1, 2]
    assert (model_dir / "config.pbtxt").is_file()
    for version in ("1", "2"):
        assert (model_dir / version / "model.py").is_file()
        assert (model_dir / version / ONNX_FILE).is_file()
    assert not list(model_dir.glob(".staging-*"))


def test_publish_refuses_a_directory_that_is_not_a_student(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an exported student"):
        publish_version(tmp_path, tmp_path / "repo")
