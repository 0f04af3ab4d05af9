"""PHI is redacted before a note leaves for an LLM, and measured against PhysioNet deid gold."""

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.trainer.openai_server import OpenAiServer
from trainer.corpora import read_deid
from trainer.teachers.llm import LlmSettings, LlmTeacher, LlmTeacherError
from trainer.teachers.redaction import Redactor

DEID = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "physionet_deid"
IDENTIFIERS = ["Quaxworth", "7731904", "617-555-1234", "3/14/2025", "Janet", "Munroe",
               "93 year old", "Calvert Hospital", "42 Elm Street"]  # fmt: skip
NOTE = (
    "Mr. Quaxworth, MRN 7731904, a 93 year old man seen 3/14/2025 at Calvert Hospital, lives at "
    "42 Elm Street. Started lisinopril for hypertension; developed a dry cough. His wife, Janet, "
    "called 617-555-1234. Marie Munroe, RN"
)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def test_identifiers_become_placeholders_and_clinical_words_stay(redactor):
    redacted = redactor.redact(NOTE)
    for identifier in IDENTIFIERS:
        assert identifier not in redacted, identifier
    for clinical in ("lisinopril", "hypertension", "dry cough"):
        assert clinical in redacted
    assert "[PERSON]" in redacted and "[DATE_TIME]" in redacted


def test_the_llm_receives_the_redacted_note_and_labels_align_to_the_original(redactor, tmp_path):
    answer = {
        "entities": [
            {"text": "lisinopril", "type": "DRUG"},
            {"text": "hypertension", "type": "DISEASE"},
        ],
        "ade_pairs": [],
    }
    with OpenAiServer({redactor.redact(NOTE): json.dumps(answer)}) as server:
        teacher = LlmTeacher(LlmSettings(base_url=server.base_url, model="m",
                                         cache_file=tmp_path / "cache.sqlite"))  # fmt: skip
        (labels,) = teacher.label_batch([NOTE])
    sent = json.dumps(server.requests)
    assert all(identifier not in sent for identifier in IDENTIFIERS)
    assert [NOTE[e.start : e.end] for e in labels.entities] == ["lisinopril", "hypertension"]


def test_notes_go_only_to_allowed_hosts(tmp_path):
    with pytest.raises(LlmTeacherError, match="CLINSTREAM_LLM_ALLOWED_HOSTS"):
        LlmTeacher(LlmSettings(base_url="https://llm.example.com/v1",
                               cache_file=tmp_path / "cache.sqlite"))  # fmt: skip


@pytest.mark.skipif(not DEID.is_dir(), reason=f"PhysioNet deid corpus not found at {DEID}")
def test_recall_on_physionet_deid_gold_phi(redactor):
    texts = {doc.doc_id: doc.text for doc in read_deid(DEID / "id.text")}
    found, total = Counter(), Counter()
    for line in (DEID / "id-phi.phrase").read_text().splitlines():
        patient, note, start, end, kind, *_ = line.split()
        text = texts.get(f"deid-{patient}-{note}")
        if text is None or not text[int(start) : int(end)].strip():
            continue
        covered = any(s <= int(start) and int(end) <= e for s, e, _ in redactor.spans(text))
        total[kind] += 1
        found[kind] += covered
    assert sum(found.values()) / sum(total.values()) >= 0.6
    assert found["Date"] / total["Date"] >= 0.8
    assert found["HCPName"] / total["HCPName"] >= 0.7
