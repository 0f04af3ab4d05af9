"""Recorded LLM answers as a teacher, several teachers combined by vote, and the ade_llm reader.

Small recordings are made up here (no corpus text is committed); the real one in ../shared is
checked against the figures its README states.
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.labels import EntityType
from streams.ops.cli import app
from trainer.batch import read_extractions, read_votes, write_extractions
from trainer.combine import vote
from trainer.corpora import CorpusFormat, Document, read_corpus
from trainer.evaluate import SCORED_TYPES, evaluate
from trainer.teachers.recorded import RecordedSettings, RecordedTeacher, RecordedTeacherError

ADE_LLM = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "ade_llm"
TEXT = "Rash developed after amoxicillin; no fever on aspirin."


def span(text: str, mention: str, entity_type: str) -> dict:
    start = text.index(mention)
    return {"start": start, "end": start + len(mention), "type": entity_type, "text": mention}


@pytest.fixture
def recording(tmp_path) -> Path:
    llm = {
        "a": [span(TEXT, "Rash", "ADE"), span(TEXT, "amoxicillin", "DRUG")],
        "b": [span(TEXT, "Rash", "ADE"), span(TEXT, "amoxicillin", "DRUG"),
              span(TEXT, "aspirin", "DRUG")],
        "c": [span(TEXT, "Rash developed", "ADE"), span(TEXT, "fever", "ADE")],
    }  # fmt: skip
    gold = {"entities": [span(TEXT, "Rash", "ADE"), span(TEXT, "amoxicillin", "DRUG")],
            "ade_pairs": [{"drug": [21, 32], "effect": [0, 4]}]}  # fmt: skip
    path = tmp_path / "recorded.jsonl"
    path.write_text(json.dumps({"note_id": "s1", "text": TEXT, "llm": llm, "gold": gold}) + "\n")
    return path


def test_one_prompt_is_replayed_and_annotated_like_any_answer(recording):
    (labels,) = RecordedTeacher(RecordedSettings(answers=recording, prompts=["b"])).label_batch(
        [TEXT]
    )
    assert [(e.text, e.type) for e in labels.entities] == [
        ("Rash", EntityType.ADE), ("amoxicillin", EntityType.DRUG), ("aspirin", EntityType.DRUG)
    ]  # fmt: skip
    (pair,) = labels.ade_pairs
    assert (pair.drug.text, pair.effect.text) == ("amoxicillin", "Rash")


def test_several_prompts_vote_on_spans(recording):
    def teacher(votes):
        settings = RecordedSettings(answers=recording, prompts=["a", "b", "c"], min_votes=votes)
        return RecordedTeacher(settings)

    (majority,) = teacher(None).label_batch([TEXT])
    assert [e.text for e in majority.entities] == ["Rash", "amoxicillin"]
    assert [e.confidence for e in majority.entities] == [0.6667, 0.6667]
    (union,) = teacher(1).label_batch([TEXT])
    # Overlapping "Rash" (2 votes) and "Rash developed" (1): the one more teachers gave wins.
    assert [e.text for e in union.entities] == ["Rash", "amoxicillin", "fever", "aspirin"]
    assert next(e for e in union.entities if e.text == "fever").negated
    assert teacher(None).version == "a+b+c@2of3:recorded.jsonl"
    # Each prompt's own answer stays available, for soft targets.
    readings = teacher(None).readings(TEXT)
    assert [[e.text for e in reading.entities] for reading in readings] == [
        ["Rash", "amoxicillin"], ["Rash", "amoxicillin", "aspirin"], ["Rash developed", "fever"]
    ]  # fmt: skip


def test_an_unrecorded_text_or_prompt_is_an_error(recording):
    teacher = RecordedTeacher(RecordedSettings(answers=recording, prompts=["a"]))
    with pytest.raises(RecordedTeacherError):
        teacher.label_batch(["A note nobody recorded."])
    with pytest.raises(ValueError, match="not in the recording"):
        RecordedTeacher(RecordedSettings(answers=recording, prompts=["zzz"]))
    with pytest.raises(ValueError):
        vote(TEXT, [], 1)


def test_the_reader_takes_gold_with_its_pairs(recording):
    (document,) = read_corpus(recording, CorpusFormat.ADE_LLM)
    assert [(e.text, e.type) for e in document.labels.entities] == [
        ("Rash", EntityType.ADE), ("amoxicillin", EntityType.DRUG)
    ]  # fmt: skip
    assert document.labels.ade_pairs[0].drug.text == "amoxicillin"


def test_label_writes_a_labels_file_and_train_files_vote(recording, tmp_path, monkeypatch):
    monkeypatch.setenv("CLINSTREAM_RECORDED_ANSWERS", str(recording))
    files = []
    for prompt in ("a", "b", "c"):
        monkeypatch.setenv("CLINSTREAM_RECORDED_PROMPTS", json.dumps([prompt]))
        files.append(tmp_path / f"{prompt}.jsonl")
        result = CliRunner().invoke(app, ["label", "--teacher", "recorded", "--input",
                                          str(recording), "--format", "ade_llm", "--output",
                                          str(files[-1])], catch_exceptions=False)  # fmt: skip
        assert result.exit_code == 0, result.output
    assert read_extractions(files[0])[0].model_version == "a:recorded.jsonl"
    # Training's default is the union (any one prompt), the recorded teacher's a majority.
    (combined,) = read_votes(files)
    assert [e.text for e in combined.labels.entities] == ["Rash", "amoxicillin", "fever",
                                                          "aspirin"]  # fmt: skip
    (majority,) = read_votes(files, min_votes=2)
    assert [e.text for e in majority.labels.entities] == ["Rash", "amoxicillin"]
    # Prompt c names no drug: its adverse effects are left out of its reading and the vote.
    (needing,) = read_votes(files, ade_needs_drug=True)
    assert [e.text for e in needing.labels.entities] == ["Rash", "amoxicillin", "aspirin"]
    assert needing.readings[2].entities == []
    assert needing.readings[:2] == combined.readings[:2]
    # The recorded teacher given the same rule combines its prompts as training does (bench).
    ruled = RecordedTeacher(
        RecordedSettings(answers=recording, prompts=["a", "b", "c"], min_votes=1),
        ade_needs_drug=True,
    )
    assert ruled.label_batch([TEXT]) == [needing.labels]
    assert ruled.readings(TEXT) == needing.readings
    assert combined.readings == RecordedTeacher(
        RecordedSettings(answers=recording, prompts=["a", "b", "c"])
    ).readings(TEXT)
    other = Document(doc_id="s1", text=TEXT + " ", labels=combined.labels)
    write_extractions(tmp_path / "x.jsonl", [other], [combined.labels], "x", "1", True)
    with pytest.raises(ValueError, match="different text"):
        read_votes([files[0], tmp_path / "x.jsonl"])


@pytest.mark.skipif(not ADE_LLM.is_dir(), reason=f"ade_llm corpus not found at {ADE_LLM}")
def test_the_recording_scores_as_its_readme_says_on_dev_relation_sentences():
    dev = [d for d in read_corpus(ADE_LLM / "dev.jsonl", CorpusFormat.ADE_LLM)
           if d.labels.entities]  # fmt: skip
    assert len(dev) == 340
    teacher = RecordedTeacher(RecordedSettings(answers=ADE_LLM / "dev.jsonl"))
    report = evaluate([d.labels for d in dev], teacher.label_batch([d.text for d in dev]),
                      SCORED_TYPES[CorpusFormat.ADE_LLM])  # fmt: skip
    assert round(report.strict["drug"].f1, 3) == 0.889
    assert round(report.strict["ade"].f1, 3) == 0.673


@pytest.mark.parametrize(
    ("text", "mention", "flags", "scored", "precision"),
    [
        # Alone, the relation sentence; with all, "Aspirin" counts where gold has no relation.
        ("Aspirin was continued.", ("Aspirin", "DRUG"), ["--annotated-only"], "drug", 1.0),
        ("Aspirin was continued.", ("Aspirin", "DRUG"), [], "drug", 0.5),
        # "headache", where no drug is named, counts unless left out as the student leaves it.
        ("She had a headache.", ("headache", "ADE"), [], "ade", 0.5),
        ("She had a headache.", ("headache", "ADE"), ["--ade-needs-drug"], "ade", 1.0),
        # "Heart failure (HF)" split as training splits teacher labels: two false mentions.
        ("Heart failure (HF).", ("Heart failure (HF)", "ADE"), [], "ade", 1 / 2),
        (
            "Heart failure (HF).",
            ("Heart failure (HF)", "ADE"),
            ["--abbreviations-apart"],
            "ade",
            1 / 3,
        ),
    ],
)
def test_evaluate_scores_the_chosen_texts_and_mentions(
    recording, monkeypatch, text, mention, flags, scored, precision
):
    with recording.open("a") as lines:
        lines.write(json.dumps({"note_id": "s2", "text": text, "llm": {"a": [span(text, *mention)]},
                                "gold": {"entities": [], "ade_pairs": []}}) + "\n")  # fmt: skip
    monkeypatch.setenv("CLINSTREAM_RECORDED_ANSWERS", str(recording))
    monkeypatch.setenv("CLINSTREAM_RECORDED_PROMPTS", '["a"]')
    result = CliRunner().invoke(app, ["evaluate", "--gold", str(recording), "--format", "ade_llm",
                                      "--teacher", "recorded", "--json", *flags],
                                catch_exceptions=False)  # fmt: skip
    assert json.loads(result.stdout)["strict"][scored]["p"] == pytest.approx(precision, abs=1e-4)
