import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.formats import parse_note
from models.messages import (
    AdverseDrugEvent,
    ClinicalNote,
    DeadLetter,
    DeadLetterReason,
    NoteRejected,
    TeacherLabel,
    decode_message,
    json_schemas,
)
from streams.settings import PROJECT_ROOT

SECRET = "Jane Doe MRN 123456 has metastatic carcinoma"
MAX_BYTES = 4000


def rejection(payload: bytes | None, max_chars: int = 1000) -> NoteRejected:
    with pytest.raises(NoteRejected) as raised:
        parse_note(payload, MAX_BYTES, max_chars)
    return raised.value


def test_valid_note_parses_and_ignores_unknown_fields():
    payload = json.dumps({"note_id": "n1", "text": SECRET, "ward": "4B"}).encode()
    note = parse_note(payload, MAX_BYTES, 1000)
    assert note == ClinicalNote(note_id="n1", text=SECRET)
    assert note.schema_version == 3


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
        (None, DeadLetterReason.INVALID_JSON),  # a tombstone
        (b"", DeadLetterReason.INVALID_JSON),
        (b"[" * 1500 + b"]" * 1500, DeadLetterReason.INVALID_JSON),  # nested too deep
        (b'{"note_id": "n1", "text": "' + SECRET.encode() + b' \xed\xa0\x80"}',
         DeadLetterReason.INVALID_JSON),  # a surrogate encoded as UTF-8 bytes
        (b'{"note_id": "n1", "text": "' + SECRET.encode() + b' \\ud800"}',
         DeadLetterReason.INVALID_SCHEMA),  # a lone surrogate escaped in JSON
        (b'{"note_id": "n1", "text": NaN}', DeadLetterReason.INVALID_SCHEMA),
        (json.dumps({"note_id": "n" * 257, "text": SECRET}).encode(),
         DeadLetterReason.INVALID_SCHEMA),
        (json.dumps({"note_id": "n1", "text": SECRET + " " * MAX_BYTES}).encode(),
         DeadLetterReason.MESSAGE_TOO_LARGE),
    ],
)  # fmt: skip
def test_bad_input_is_rejected_with_its_reason_and_no_note_text(payload, reason):
    rejected = rejection(payload)
    assert rejected.reason == reason
    for fragment in ("Jane", "123456", "carcinoma"):
        assert fragment not in rejected.error


def test_bom_and_utf16_json_are_read_as_the_json_standard_allows():
    body = json.dumps({"note_id": "n1", "text": SECRET})
    for payload in (b"\xef\xbb\xbf" + body.encode(), body.encode("utf-16")):
        assert parse_note(payload, MAX_BYTES, 1000).text == SECRET


@given(st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode)))
def test_any_bytes_parse_or_are_rejected_with_a_reason(payload):
    try:
        note = parse_note(payload, MAX_BYTES, 1000)
    except NoteRejected as rejected:
        assert rejected.reason in DeadLetterReason
    else:
        note.model_dump_json().encode("utf-8")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.fixed_dictionaries(
        {"note_id": st.one_of(st.text(max_size=300), JSON_VALUES)},
        optional={"text": st.one_of(st.text(max_size=200), JSON_VALUES), "extra": JSON_VALUES},
    )
)
def test_any_json_object_parses_or_is_rejected_with_a_reason(fields):
    payload = json.dumps(fields).encode("utf-8", "surrogatepass")
    try:
        note = parse_note(payload, MAX_BYTES, 1000)
    except NoteRejected as rejected:
        assert rejected.reason in DeadLetterReason
        assert rejected.note_id is None or rejected.note_id == fields["note_id"]
    else:
        assert note.text == fields["text"]
        note.model_dump_json().encode("utf-8")


def test_internal_messages_decode_or_are_rejected_as_invalid_schema():
    for payload in (None, b"{", b"[" * 5000, b"{}", SECRET.encode()):
        with pytest.raises(NoteRejected) as raised:
            decode_message(payload, TeacherLabel)
        assert raised.value.reason == DeadLetterReason.INVALID_SCHEMA
        assert "Jane" not in raised.value.error


def test_a_dead_letter_keeps_the_payload_only_up_to_its_limit():
    fields = dict(reason=DeadLetterReason.NOTE_TOO_LONG, error="e", source_topic="t",
                  source_partition=0, source_offset=7)  # fmt: skip
    kept = DeadLetter.keeping(b"abc", 3, **fields)
    assert kept.payload() == b"abc" and not kept.payload_truncated
    dropped = DeadLetter.keeping(b"abcd", 3, **fields)
    assert dropped.payload() == b"" and dropped.payload_truncated
    assert dropped.payload_bytes == 4 and len(dropped.payload_sha256) == 64


def test_rejection_keeps_the_note_id_when_there_is_one():
    assert rejection(json.dumps({"note_id": "n7", "text": ""}).encode()).note_id == "n7"
    assert rejection(json.dumps({"text": ""}).encode()).note_id is None


def test_committed_json_schemas_are_current():
    directory = PROJECT_ROOT / "models" / "jsonschema"
    for name, text in json_schemas().items():
        assert (directory / name).read_text() == text, f"run `clinstream schemas` ({name})"


def test_a_version_2_ade_event_reads_as_an_asserted_actual_event():
    """Version 3 added assertion, section and actuality; what a v2 message lacks is the
    default, which is what v2 meant."""
    entity = ('{"type": "%s", "start": %d, "end": %d, "text": "%s", "confidence": 0.9, '
              '"negated": false, "codes": []}')  # fmt: skip
    v2 = (
        '{"schema_version": 2, "event_id": "e", "note_id": "n", "model_name": "student",'
        ' "model_version": "1", "confidence": 0.8, "detected_at": "2026-01-01T00:00:00Z",'
        f' "drug": {entity % ("DRUG", 11, 18, "aspirin")},'
        f' "effect": {entity % ("ADE", 0, 4, "rash")}}}'
    )
    event = AdverseDrugEvent.model_validate_json(v2)
    assert event.schema_version == 2 and event.actuality == "actual"
    assert event.effect.asserted and event.effect.section is None
