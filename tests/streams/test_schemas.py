import json

import pytest

from streams.schemas import (
    ClinicalNote,
    DeadLetterReason,
    NoteRejected,
    json_schemas,
    parse_note,
)
from streams.settings import PROJECT_ROOT

SECRET = "Jane Doe MRN 123456 has metastatic carcinoma"


def rejection(payload: bytes, max_chars: int = 1000) -> NoteRejected:
    with pytest.raises(NoteRejected) as raised:
        parse_note(payload, max_chars)
    return raised.value


def test_valid_note_parses_and_ignores_unknown_fields():
    payload = json.dumps({"note_id": "n1", "text": SECRET, "ward": "4B"}).encode()
    note = parse_note(payload, 1000)
    assert note == ClinicalNote(note_id="n1", text=SECRET)
    assert note.schema_version == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"note_id": "n1", "text": "' + SECRET.encode(), DeadLetterReason.INVALID_JSON),
        (b"\xff\xfe" + SECRET.encode(), DeadLetterReason.INVALID_JSON),
        (json.dumps({"text": SECRET}).encode(), DeadLetterReason.INVALID_SCHEMA),
        (json.dumps({"note_id": "n1", "text": 42}).encode(), DeadLetterReason.INVALID_SCHEMA),
        (json.dumps([SECRET]).encode(), DeadLetterReason.INVALID_SCHEMA),
        (json.dumps({"note_id": "n1", "text": " \n "}).encode(), DeadLetterReason.EMPTY_TEXT),
        (json.dumps({"note_id": "n1", "text": SECRET * 40}).encode(),
         DeadLetterReason.NOTE_TOO_LONG),
        (json.dumps({"note_id": "n1", "text": SECRET, "schema_version": 9}).encode(),
         DeadLetterReason.INVALID_SCHEMA),
    ],
)  # fmt: skip
def test_bad_input_is_rejected_with_its_reason_and_no_note_text(payload, reason):
    rejected = rejection(payload)
    assert rejected.reason == reason
    for fragment in ("Jane", "123456", "carcinoma"):
        assert fragment not in rejected.error


def test_rejection_keeps_the_note_id_when_there_is_one():
    assert rejection(json.dumps({"note_id": "n7", "text": ""}).encode()).note_id == "n7"
    assert rejection(json.dumps({"text": ""}).encode()).note_id is None


def test_committed_json_schemas_are_current():
    directory = PROJECT_ROOT / "streams" / "jsonschema"
    for name, text in json_schemas().items():
        assert (directory / name).read_text() == text, f"run `clinstream schemas` ({name})"
