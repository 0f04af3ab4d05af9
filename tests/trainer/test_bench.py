import pytest

from trainer.bench import _teacher_labels


def test_teacher_labels_are_saved_and_reused_without_the_teacher(tmp_path):
    texts = ["Started amoxicillin; developed a rash.", "Denies chest pain."]
    labels_file = tmp_path / "teacher-labels.json"
    teacher, labelled = _teacher_labels(texts, labels_file, reuse=False)
    assert teacher == "lexicon-1"
    assert [e.text for e in labelled[0].entities] == ["amoxicillin", "rash"]

    assert _teacher_labels(texts[::-1], labels_file, reuse=True) == (teacher, labelled[::-1])
    with pytest.raises(ValueError, match="lacks labels for 1 texts"):
        _teacher_labels(["A note never labelled."], labels_file, reuse=True)
