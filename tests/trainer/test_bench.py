import pytest

from trainer.bench import _teacher_labels, markdown_table
from trainer.settings import TrainingSettings


def test_teacher_labels_are_saved_and_reused_without_the_teacher(tmp_path):
    texts = ["Started amoxicillin; developed a rash.", "Denies chest pain."]
    labels_file = tmp_path / "teacher-labels.json"
    teacher, labelled = _teacher_labels(texts, labels_file, reuse=False)
    assert teacher == "lexicon-1"
    assert [e.text for e in labelled[0].entities] == ["amoxicillin", "rash"]

    assert _teacher_labels(texts[::-1], labels_file, reuse=True) == (teacher, labelled[::-1])
    with pytest.raises(ValueError, match="lacks labels for 1 texts"):
        _teacher_labels(["A note never labelled."], labels_file, reuse=True)


def test_table_rows_give_differences_and_the_footer_records_device_and_settings():
    def report(f1: float) -> dict:
        score = {"p": f1, "r": f1, "f1": f1, "support": 10}
        return {"strict": {"drug": score, "micro": score}, "lenient": {"drug": score},
                "ade_pairs": {**score, "support": 0}}  # fmt: skip

    runs = ["distilled student", "supervised student (PHEE)"]
    table = markdown_table({
        "results": {model: {"PHEE": report(f1)} for model, f1 in
                    [("lexicon teacher", 0.5), ("distilled student", 0.6),
                     ("supervised student", 0.9)]},
        "train_seconds": dict.fromkeys(runs, 12),
        "best_epochs": dict.fromkeys(runs, 3),
        "device": "NVIDIA H100 80GB HBM3",
        "training": TrainingSettings(epochs=20, batch_size=32).model_dump(),
        "distill_documents": 40,
        "extra_unlabelled_notes": 5,
    })  # fmt: skip
    assert (
        "| PHEE | drug | 0.500 (0.500) | 0.600 (0.600) | 0.900 (0.900) | +10.0 | +30.0 |" in table
    )
    assert "ADE pairs" not in table  # no gold pairs in this corpus
    assert "Training on NVIDIA H100 80GB HBM3: distilled student 12 s (best epoch 3)" in table
    assert "at most 20 epochs, batch 32" in table
