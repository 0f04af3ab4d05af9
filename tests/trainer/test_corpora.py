import json
from pathlib import Path

import pytest

from models.labels import EntityType
from trainer.corpora import CorpusFormat, read_corpus

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpora"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"{SHARED} is absent (a clone without ../shared): gold not read"
)


def all_offsets_slice(documents) -> bool:
    return all(d.text[e.start : e.end] == e.text for d in documents for e in d.labels.entities)


@needs_shared
def test_phee_dev_drugs_effects_and_pairs():
    documents = read_corpus(SHARED / "phee" / "dev.json", CorpusFormat.PHEE)
    assert len(documents) == 961
    types = [e.type for d in documents for e in d.labels.entities]
    assert set(types) == {EntityType.DRUG, EntityType.ADE}
    assert 1100 < types.count(EntityType.DRUG) <= 1211
    assert 850 < types.count(EntityType.ADE) <= 919
    assert sum(len(d.labels.ade_pairs) for d in documents) > 850
    assert all_offsets_slice(documents)


@needs_shared
def test_bc5cdr_offsets_match_the_mention_text_of_the_corpus():
    path = SHARED / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"
    documents = read_corpus(path, CorpusFormat.BC5CDR)
    assert len(documents) == 500
    mentions = {}
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) >= 5 and fields[1] != "CID":
            mentions[(fields[0], int(fields[1]), int(fields[2]))] = fields[3]
    found = {(d.doc_id, e.start, e.end): e.text for d in documents for e in d.labels.entities}
    assert found.items() <= mentions.items()
    assert len(found) > 8000


@needs_shared
def test_unlabelled_clinical_notes():
    mtsamples = read_corpus(SHARED / "mtsamples" / "mtsamples_subset.csv", CorpusFormat.MTSAMPLES)
    deid = read_corpus(SHARED / "physionet_deid" / "id.text", CorpusFormat.DEID)
    assert len(mtsamples) == 397  # 401 rows, 4 with empty transcriptions
    assert 2000 < len(deid) <= 2434
    assert all(d.labels is None and d.text.strip() for d in [*mtsamples, *deid])


def test_brat_standoff_entities_and_ade_relations(tmp_path):
    (tmp_path / "n1.txt").write_text("Rash after amoxicillin; history of asthma.")
    (tmp_path / "n1.ann").write_text(
        "T1\tADE 0 4\tRash\nT2\tDRUG 11 22\tamoxicillin\nT3\tDISEASE 35 41\tasthma\n"
        "T4\tDosage 0 1\tR\nR1\tAdverse_drug_event Arg1:T2 Arg2:T1\n"
    )
    (document,) = read_corpus(tmp_path, CorpusFormat.BRAT)
    assert [(e.type, e.text) for e in document.labels.entities] == [
        (EntityType.ADE, "Rash"), (EntityType.DRUG, "amoxicillin"), (EntityType.DISEASE, "asthma"),
    ]  # fmt: skip
    (pair,) = document.labels.ade_pairs
    assert (pair.drug.text, pair.effect.text) == ("amoxicillin", "Rash")


def test_jsonl_notes_need_an_id_and_text(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"note_id": "a", "text": "x"}) + "\n\n")
    assert [d.doc_id for d in read_corpus(path, CorpusFormat.JSONL)] == ["a"]
    path.write_text(json.dumps({"text": "x"}) + "\n")
    with pytest.raises(ValueError, match="notes.jsonl:1"):
        read_corpus(path, CorpusFormat.JSONL)
