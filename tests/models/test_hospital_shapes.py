"""Hospital messages in the shapes they really come in (issue: BOMs, broken pastes, charsets,
XHTML reports, documents known by identifier), and files of them that `extract` reads whole."""

import base64
import contextlib
import json
import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from models.formats import FORMATS, NoteFormat, parse_note, parse_notes
from models.formats.fhir import source_resource
from models.messages import ClinicalNote, DeadLetterReason, NoteRejected, content_hash
from streams.fhir_out import _document
from tests.hospital_messages import (
    DIAGNOSTIC_REPORT,
    DOCUMENT_REFERENCE,
    MDM_PROBLEM_LIST,
    MDM_T02,
    MULTI_DOCUMENT_BUNDLE,
    ORU_CASE_NOTIFICATION,
    ORU_R01_REPORT,
    ORU_TWO_ORDERS,
)
from trainer.corpora import read_messages

LIMIT = 1_000_000
BOM = b"\xef\xbb\xbf"


def hl7(payload: bytes) -> ClinicalNote:
    return parse_note(payload, LIMIT, LIMIT, NoteFormat.HL7V2)


def rejection(payload: bytes, note_format: NoteFormat = NoteFormat.HL7V2) -> NoteRejected:
    try:
        parse_note(payload, LIMIT, LIMIT, note_format)
    except NoteRejected as rejected:
        return rejected
    raise AssertionError("the message was accepted")


def test_a_byte_order_mark_before_msh_is_read_past():
    assert hl7(BOM + MDM_T02.encode()).note_id == "DOC-77811"


def test_a_file_whose_first_message_has_a_bom_or_garbage_loses_no_message_unseen(tmp_path, caplog):
    messages = [MDM_T02.encode(), ORU_R01_REPORT.encode()]
    with_bom = tmp_path / "bom.hl7"
    with_bom.write_bytes(BOM + b"\r".join(messages))
    assert [d.doc_id for d in read_messages(with_bom, NoteFormat.HL7V2)] == [
        "DOC-77811", "RAD-88120"
    ]  # fmt: skip
    garbage = tmp_path / "garbage.hl7"
    garbage.write_bytes(b"\x00\x02MSHH|junk\r" + b"\r".join(messages))
    with caplog.at_level(logging.WARNING):
        read = [d.doc_id for d in read_messages(garbage, NoteFormat.HL7V2)]
    assert read == ["DOC-77811", "RAD-88120"]
    assert "message 1 skipped: invalid_hl7v2" in caplog.text


def test_a_message_pasted_from_a_pdf_is_rejected_naming_the_first_line_that_is_not_a_segment():
    lines = MDM_T02.split("\r")
    wrapped = [*lines[:5], lines[5][:60], lines[5][60:], "Page 1 of 2", *lines[6:]]
    rejected = rejection("\r".join(wrapped).encode())
    assert rejected.reason == DeadLetterReason.INVALID_HL7V2
    assert "line 7 is not a segment" in rejected.error


def test_the_character_set_msh_18_names_is_the_one_read():
    msh, rest = MDM_T02.split("\r", 1)
    for named, codec, word in (
        ("UNICODE UTF-8", "utf-8", "肺炎"), ("GB 18030-2000", "gb18030", "肺炎"),
        ("KS X 1001", "euc_kr", "폐렴"), ("BIG-5", "big5", "肺炎"), ("8859/1", "latin-1", "é"),
    ):  # fmt: skip
        fields = (msh.split("|") + [""] * 8)[:18]
        fields[17] = named
        text = "|".join(fields) + "\r" + rest.replace("pneumonia", f"pneumonia ({word})")
        assert f"pneumonia ({word})" in hl7(text.encode(codec)).text, named


def test_an_xhtml_report_is_read_as_html():
    xhtml = ('<div xmlns="http://www.w3.org/1999/xhtml"><h3>Findings</h3>'
             "<p>Small left pneumothorax after line placement.</p></div>")  # fmt: skip
    report = {**DIAGNOSTIC_REPORT, "presentedForm": [
        {"contentType": "application/xhtml", "data": base64.b64encode(xhtml.encode()).decode()}
    ]}  # fmt: skip
    note = parse_note(json.dumps(report).encode(), LIMIT, LIMIT, NoteFormat.FHIR)
    assert "Small left pneumothorax" in note.text and "<p>" not in note.text


def test_a_document_with_no_resource_id_is_referred_to_by_its_identifier():
    unnamed = {k: v for k, v in DOCUMENT_REFERENCE.items() if k != "id"}
    note = parse_note(json.dumps(unnamed).encode(), LIMIT, LIMIT, NoteFormat.FHIR)
    assert note.note_id == "DOC-3001" and source_resource(note) is None
    reference = _document(note)
    assert reference.reference is None
    assert (reference.type, reference.identifier.system, reference.identifier.value) == (
        "DocumentReference", "urn:oid:1.2.3.4.5", "DOC-3001"
    )  # fmt: skip


def test_one_document_sent_twice_has_one_content_hash():
    assert (
        content_hash("Findings suggest acute pancreatitis.")
        == content_hash("Findings suggest acute pancreatitis.")
        != content_hash("Findings suggest acute cholecystitis.")
    )


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=600), note_format=st.sampled_from([NoteFormat.HL7V2, NoteFormat.FHIR])
)
def test_any_file_splits_into_messages_that_each_give_a_note_or_a_rejection(data, note_format):
    for message in FORMATS[note_format].split(data):
        with contextlib.suppress(NoteRejected):
            parse_note(message, LIMIT, LIMIT, note_format)


@settings(max_examples=100, deadline=None)
@given(prefix=st.binary(max_size=40), cut=st.integers(min_value=0, max_value=len(MDM_T02)))
def test_extract_reads_any_hl7_file_without_an_exception(tmp_path_factory, prefix, cut):
    path = tmp_path_factory.mktemp("fuzz") / "messages.hl7"
    path.write_bytes(prefix + MDM_T02[:cut].encode() + b"\r" + ORU_R01_REPORT.encode())
    assert "RAD-88120" in [d.doc_id for d in read_messages(path, NoteFormat.HL7V2)]


def test_a_bundle_of_several_documents_gives_each_its_own_note_or_rejection(tmp_path):
    payload = json.dumps(MULTI_DOCUMENT_BUNDLE).encode()
    first, second, third = parse_notes(payload, LIMIT, LIMIT, NoteFormat.FHIR)
    assert (first.note_id, second.note_id) == ("docref-3001", "report-812")
    assert source_resource(second) == "DiagnosticReport/report-812"
    assert isinstance(third, NoteRejected) and third.note_id == "docref-pdf"
    assert third.reason == DeadLetterReason.UNSUPPORTED_MESSAGE
    assert third.error.startswith("document 3 of 3: ")
    exported = tmp_path / "export.ndjson"
    exported.write_bytes(payload)
    assert [d.doc_id for d in read_messages(exported, NoteFormat.FHIR)] == [
        "docref-3001", "report-812"
    ]  # fmt: skip


def test_each_order_of_an_oru_is_a_document_with_its_nte_comments():
    first, second = parse_notes(ORU_TWO_ORDERS.encode(), LIMIT, LIMIT, NoteFormat.HL7V2)
    assert (first.note_id, second.note_id) == ("RAD-90001", "PATH-3302")
    assert "pneumothorax" in first.text and "Lichenoid" not in first.text
    assert second.text == (
        "Lichenoid drug eruption, consistent with a reaction to hydrochlorothiazide."
    )  # the NM glucose is a result, not narrative
    assert second.note_type == "SKIN BIOPSY"


def test_st_values_that_are_ids_phones_or_addresses_are_not_a_note():
    rejected = rejection(ORU_CASE_NOTIFICATION.encode())
    assert rejected.reason == DeadLetterReason.UNSUPPORTED_MESSAGE
    assert rejected.error.startswith("no narrative") and "found OBX-2 ST" in rejected.error


def test_a_mention_never_runs_from_one_list_item_into_the_next():
    from models.decoding import annotate
    from models.labels import EntityType
    from models.spans import Entity

    note = hl7(MDM_PROBLEM_LIST.encode())
    start = note.text.index("Generalized")
    end = note.text.index("Stroke") + len("Stroke")
    whole = Entity(type=EntityType.DISEASE, start=start, end=end, text=note.text[start:end],
                   confidence=0.8)  # fmt: skip
    split = annotate(note.text, [whole]).entities
    assert [e.text for e in split] == ["Generalized anxiety disorder", "Pneumonia", "Stroke"]
    wrap = "Shortness of\nbreath on exertion."
    wrapped = Entity(type=EntityType.SYMPTOM, start=0, end=19, text=wrap[:19], confidence=0.8)
    assert [e.text for e in annotate(wrap, [wrapped]).entities] == ["Shortness of\nbreath"]
