import json

import pytest

from models.settings import StudentSettings
from trainer.bench.accuracy import AccuracySummary, _teacher_labels, accuracy_table
from trainer.bench.llm import llm_table, run_llm_teacher_benchmark
from trainer.bench.runs import trained
from trainer.settings import TrainingSettings
from trainer.train import RunMetrics


def test_teacher_labels_are_saved_and_reused_without_the_teacher(tmp_path):
    texts = ["Started amoxicillin; developed a rash.", "Denies chest pain."]
    labels_file = tmp_path / "teacher-labels.json"
    teacher, labelled = _teacher_labels(texts, labels_file, reuse=False)
    assert teacher == "lexicon-1"
    assert [e.text for e in labelled[0].entities] == ["amoxicillin", "rash"]

    assert _teacher_labels(texts[::-1], labels_file, reuse=True) == (teacher, labelled[::-1])
    with pytest.raises(ValueError, match="lacks labels for 1 texts"):
        _teacher_labels(["A note never labelled."], labels_file, reuse=True)


def test_resume_keeps_a_finished_student_only_under_the_same_settings(tmp_path, monkeypatch):
    trainings = []

    def train() -> RunMetrics:
        trainings.append(TrainingSettings().epochs)
        return RunMetrics(source="teacher", train_documents=1, train_windows=1,
                          dev_documents=0, best_epoch=1, epochs=[],
                          train_seconds=len(trainings), device="cpu")  # fmt: skip

    monkeypatch.setenv("CLINSTREAM_TRAIN_EPOCHS", "2")
    first = trained(tmp_path, resume=True, train=train)
    assert trained(tmp_path, resume=True, train=train) == first
    assert trained(tmp_path, resume=False, train=train).train_seconds == 2
    monkeypatch.setenv("CLINSTREAM_TRAIN_EPOCHS", "1")
    assert trained(tmp_path, resume=True, train=train).train_seconds == 3
    assert trainings == [2, 2, 1]


def test_table_rows_give_differences_and_the_footer_records_device_and_settings():
    def report(f1: float) -> dict:
        score = {"p": f1, "r": f1, "f1": f1, "support": 10}
        return {"documents": 10, "strict": {"drug": score, "micro": score},
                "lenient": {"drug": score},
                "ade_pairs": {**score, "support": 0}}  # fmt: skip

    runs = ["distilled student", "supervised student (PHEE)"]
    table = accuracy_table(AccuracySummary.model_validate({
        "results": {model: {"PHEE": report(f1)} for model, f1 in
                    [("lexicon teacher", 0.5), ("distilled student", 0.6),
                     ("supervised student", 0.9)]},
        "train_seconds": dict.fromkeys(runs, 12),
        "best_epochs": dict.fromkeys(runs, 3),
        "device": "NVIDIA H100 80GB HBM3",
        "training": TrainingSettings(epochs=20, batch_size=32),
        "student": StudentSettings(backbone="/runs/adapted-backbone"),
        "teacher": "lexicon",
        "distill_documents": 40,
        "extra_unlabelled_notes": 5,
    }))  # fmt: skip
    assert (
        "| PHEE | drug | 0.500 (0.500) | 0.600 (0.600) | 0.900 (0.900) | +10.0 | +30.0 |" in table
    )
    assert "ADE pairs" not in table  # no gold pairs in this corpus
    assert "Training on NVIDIA H100 80GB HBM3: distilled student 12 s (best epoch 3)" in table
    assert "at most 20 epochs, batch 32" in table
    assert "backbone /runs/adapted-backbone." in table


def write_made_up_corpora(root):
    """ade_llm, phee_chatgpt and PHEE shaped files, made up here (no corpus text). Every third
    sentence names, nearer its effect, a second drug that the effect does not pair with."""
    drugs, effects = ["amoxicillin", "warfarin", "lisinopril"], ["rash", "bleeding", "cough"]
    sentences = []
    for i in range(24):
        drug, effect, other = drugs[i % 3], effects[i % 3], drugs[(i + 1) % 3]
        taking = f" on {other}" if i % 3 == 0 else ""
        text = f"Patient {i}{taking} developed {effect} days after starting {drug}."
        sentences.append((text, drug, effect, other if i % 3 == 0 else None))

    def span(text, mention, entity_type):
        start = text.index(mention)
        return {"start": start, "end": start + len(mention), "type": entity_type, "text": mention}

    (root / "ade_llm").mkdir(parents=True)
    for name, part in (("train", sentences[:16]), ("dev", sentences[16:])):
        lines = []
        for i, (text, drug, effect, other) in enumerate(part):
            found = [span(text, drug, "DRUG"), span(text, effect, "ADE")]
            found += [span(text, other, "DRUG")] if other else []
            record = {"note_id": f"{name}-{i}", "text": text,
                      "llm": {"gpt41nano_direct": found, "gpt41nano_enhanced": found,
                              "gpt41nano_dspy": found[:1]}}  # fmt: skip
            if name == "dev":
                record["gold"] = {"entities": found, "ade_pairs": [
                    {"drug": [found[0]["start"], found[0]["end"]],
                     "effect": [found[1]["start"], found[1]["end"]]}]}  # fmt: skip
            lines.append(json.dumps(record))
        if name == "dev":  # a sentence two prompts call an ADE though they name no drug
            text = "Patient 99 reported a mild headache."
            found = [span(text, "headache", "ADE")]
            lines.append(json.dumps({"note_id": "dev-99", "text": text,
                                     "llm": {"gpt41nano_direct": found,
                                             "gpt41nano_enhanced": found, "gpt41nano_dspy": []},
                                     "gold": {"entities": [], "ade_pairs": []}}))  # fmt: skip
        (root / "ade_llm" / f"{name}.jsonl").write_text("\n".join(lines) + "\n")

    def phee_line(i, sentence):
        text, drug, effect, other = sentence
        adverse = {"event_type": "Adverse_event",
                   "Treatment": {"Drug": {"text": [[drug]], "start": [[text.index(drug)]]}},
                   "Effect": {"text": [[effect]], "start": [[text.index(effect)]]}}  # fmt: skip
        events = [adverse]
        if other:
            events.append({"event_type": "Potential_therapeutic_event",
                           "Treatment": {"Drug": {"text": [[other]],
                                                  "start": [[text.index(other)]]}}})  # fmt: skip
        return json.dumps({"id": str(i), "context": text, "annotations": [{"events": events}]})

    for folder, name, part in (("phee_chatgpt", "train_aug.json", sentences[:10]),
                               ("phee_chatgpt", "train_aug_constrain_drug_and_effect.json",
                                sentences[10:16]),
                               ("phee", "train.json", sentences[:16]),
                               ("phee", "dev.json", sentences[16:])):  # fmt: skip
        (root / folder).mkdir(exist_ok=True)
        (root / folder / name).write_text("\n".join(phee_line(i, t) for i, t in enumerate(part)))


def test_the_llm_suite_distils_from_recorded_teachers_and_scores_both_views(
    tmp_path, tiny_backbone, monkeypatch
):
    for key, value in {"CLINSTREAM_STUDENT_BACKBONE": str(tiny_backbone),
                       "CLINSTREAM_STUDENT_MAX_LENGTH": "32", "CLINSTREAM_STUDENT_STRIDE": "8",
                       "CLINSTREAM_TRAIN_EPOCHS": "2"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    write_made_up_corpora(tmp_path / "corpora")
    summary = run_llm_teacher_benchmark(
        tmp_path / "corpora", tmp_path / "work", ["gpt41nano_direct", "label model of 3 prompts"]
    )
    assert list(summary.ade) == ["gpt41nano_direct", "label model of 3 prompts"]
    direct = summary.ade["gpt41nano_direct"]
    assert direct.teacher["relation sentences"].strict["ade"].f1 == 1.0
    # The teacher is scored as the student is: its drugless ADE left out (as answered, beside).
    assert direct.teacher["all sentences"].strict["ade"].p == 1.0
    assert direct.teacher_as_answered["all sentences"].strict["ade"].p == 0.8889
    assert set(direct.student) == {"relation sentences", "all sentences"}
    assert summary.phee_synthetic.sentences == 16
    table = llm_table(summary)
    assert "| gpt41nano_direct | relation sentences | ade | 1.000 (1.000) |" in table
    assert "PHEE dev, student trained on 16 LLM-written sentences alone" in table
    ruled = "| gpt41nano_direct | all sentences | 0.889 / 1.000 / 0.941 | 1.000 / 1.000 / 1.000 |"
    assert ruled in table.split("as the gate's threshold")[0]
    # The learned pairing leaves out the second drug that the nearest-drug rule can pick.
    on_gold = summary.pairing_on_gold_mentions["ADE dev, relation sentences"]
    assert on_gold["learned, LLM-written"].f1 == 1.0
    assert on_gold["nearest drug"].f1 < 1.0
    assert "| ADE dev, relation sentences | learned, LLM-written | 1.000 | 1.000 | 1.000 |" in table
    assert "Training: at most 2 epochs, batch 8" in table
    assert "teacher labels split (one drug per mention, abbreviations apart)" in table
    assert f"backbone {tiny_backbone}." in table
    # A student of several prompts trains as `clinstream train` given several --labels.
    weights = {run: json.loads((tmp_path / "work" / run / "config.json").read_text())
               ["training"]["sentence_loss_weight"]
               for run in ("ade-gpt41nano_direct", "ade-label-model-of-3-prompts")}  # fmt: skip
    assert weights == {"ade-gpt41nano_direct": 1.0, "ade-label-model-of-3-prompts": 0.3}
    assert (f"sentence head on (loss weight 0.3), backbone {tiny_backbone}, weights averaged "
            "over students of data-order seeds [13, 5].") in table  # fmt: skip
    # The sentence head gates the student's ADE mentions; the curve starts with none gated.
    assert direct.operating_point is not None
    assert direct.ade_curve[0].threshold == 0
    assert direct.ade_curve[0].ade == direct.student_ungated["all sentences"].strict["ade"]
    assert "| gpt41nano_direct | all sentences |" in table.split("as the gate's threshold")[0]
