"""Hospital formats -> ClinicalNote through the one seam the stream and batch commands use."""

import contextlib
import json
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.bundle import Bundle
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hypothesis import given, settings
from hypothesis import strategies as st

from models.formats import FORMATS, NoteFormat, parse_note
from models.messages import NoteRejected
from tests.hospital_messages import (
    BUNDLE,
    DIAGNOSTIC_REPORT,
    DOCUMENT_REFERENCE,
    DOCUMENT_REFERENCE_HTML,
    DOCUMENT_REFERENCE_RTF,
    FHIR_SPEC_EXAMPLES,
    INVALID_FHIR,
    INVALID_HL7V2,
    MDM_T02,
    MDM_T04,
    ORU_R01_REPORT,
    SECRET,
    VALID_FHIR,
    VALID_HL7V2,
)

LIMIT = 1_000_000


def hl7(message: str):
    return parse_note(message.encode(), LIMIT, LIMIT, NoteFormat.HL7V2)


def fhir(resource: dict):
    return parse_note(json.dumps(resource).encode(), LIMIT, LIMIT, NoteFormat.FHIR)


@pytest.mark.parametrize("name", VALID_HL7V2)
def test_the_hl7_fixtures_are_valid_hl7_v2_5(name):
    framed = VALID_HL7V2[name].strip("\x0b\x1c\r\n").replace("\r\n", "\r")
    parse_message(framed, validation_level=VALIDATION_LEVEL.STRICT).validate()


def test_an_mdm_t02_becomes_a_note_with_its_ids_times_and_decoded_text():
    note = hl7(MDM_T02)
    assert note.note_id == "DOC-77811"  # TXA-12
    assert note.patient_id == "MRN-48213"  # PID-3
    assert note.encounter_id == "ENC-9921"  # PV1-19
    assert note.authored_at == datetime(2024, 1, 15, 13, 55)  # TXA-4
    assert note.note_type == "DS"
    assert note.source == "TRANSCRIPTION/GENHOSP"
    assert note.text == (
        "Admitted with community-acquired pneumonia.\n"  # \.br\ is a line break
        "Started on amoxicillin and clarithromycin.\n"
        "On day 3 she developed a diffuse urticarial rash after amoxicillin & it was stopped.\n"
        "Denies fever or chest pain at discharge.\n"  # a repetition is a line
        "Continue metformin for type 2 diabetes mellitus."  # each OBX a line
    )


def test_mllp_framing_crlf_segment_ends_and_ft_text_are_read():
    note = hl7(MDM_T04)
    assert note.note_id == "DOC-77845"
    assert note.text == (
        "Patient reports nausea and dizziness since starting lisinopril.\n"
        "Lisinopril held; start amlodipine."
    )


def test_an_oru_r01_report_takes_its_id_from_obr_3_and_time_from_obr_7():
    note = hl7(ORU_R01_REPORT)
    assert note.note_id == "RAD-88120"
    assert note.note_type == "CHEST X-RAY 2 VIEWS"
    assert note.authored_at == datetime(2024, 1, 17, 9, 45)
    assert note.text.startswith("FINDINGS: Right lower lobe consolidation")


def test_fhir_document_reference_in_plain_text_html_and_rtf():
    plain = fhir(DOCUMENT_REFERENCE)
    assert (plain.note_id, plain.patient_id, plain.encounter_id) == (
        "docref-3001", "pat-17", "enc-4410"
    )  # fmt: skip
    assert plain.authored_at == datetime(2024, 1, 18, 8, 30, tzinfo=UTC)
    assert plain.note_type == "Progress note"
    assert plain.source == "fhir/DocumentReference"
    assert plain.text.startswith("Atorvastatin was started last month.")
    html = fhir(DOCUMENT_REFERENCE_HTML).text
    assert html.splitlines() == [
        "Clinic letter",
        "Warfarin continued for atrial fibrillation.",
        "Bleeding gums after warfarin dose increase.",
    ]
    assert fhir(DOCUMENT_REFERENCE_RTF).text == (
        "Ibuprofen caused stomach pain.\nSwitched to paracetamol."
    )


def test_fhir_diagnostic_report_and_a_bundle_resolving_its_patient():
    report = fhir(DIAGNOSTIC_REPORT)
    assert (report.note_id, report.patient_id, report.encounter_id) == (
        "report-812", "MRN-50127", "enc-4470"
    )  # fmt: skip
    assert report.text == "Findings suggest acute pancreatitis."
    bundled = fhir(BUNDLE)
    assert (bundled.note_id, bundled.patient_id) == ("docref-3004", "pat-88")
    Bundle.model_validate(BUNDLE)  # the fixture is a valid R4 Bundle


@pytest.mark.parametrize("name", FHIR_SPEC_EXAMPLES)
def test_the_fhir_specification_examples_become_notes_or_clear_dead_letters(name):
    payload, reason = FHIR_SPEC_EXAMPLES[name]
    if reason is None:
        note = parse_note(payload, LIMIT, LIMIT, NoteFormat.FHIR)
        assert note.text == json.loads(payload).get("conclusion", note.text)
        assert note.patient_id is not None
        return
    with pytest.raises(NoteRejected) as raised:
        parse_note(payload, LIMIT, LIMIT, NoteFormat.FHIR)
    assert raised.value.reason.value == reason
    assert "has no attachment with text/plain" in raised.value.error


def test_a_bundles_report_is_read_with_its_patient():
    note = parse_note(FHIR_SPEC_EXAMPLES["Bundle-f202"][0], LIMIT, LIMIT, NoteFormat.FHIR)
    assert (note.note_id, note.patient_id) == ("f202", "f201")
    assert note.text == "Blood culture tested positive on staphylococcus aureus"


@pytest.mark.parametrize(
    ("note_format", "payload", "reason"),
    [(NoteFormat.HL7V2, p, r) for p, r in INVALID_HL7V2.items()]
    + [(NoteFormat.FHIR, p, r) for p, r in INVALID_FHIR.items()],
)
def test_a_malformed_message_is_rejected_with_a_reason_that_names_no_text(
    note_format, payload, reason
):
    with pytest.raises(NoteRejected) as raised:
        parse_note(payload, LIMIT, LIMIT, note_format)
    assert raised.value.reason.value == reason
    assert SECRET not in raised.value.error
    assert "pneumonia" not in raised.value.error


def test_hl7_errors_name_the_segment_and_field():
    errors = {
        parse_error(payload): reason
        for payload, reason in INVALID_HL7V2.items()
        if reason == "invalid_hl7v2"
    }
    assert any("MSH-10" in error for error in errors)
    assert any("TXA-4" in error for error in errors)
    assert any("no TXA segment" in error for error in errors)
    no_narrative = (
        "no narrative: no OBX of value type TX/FT/ST (ST only as prose) and no NTE comment; "
        "found OBX-2 FN, SN"
    )
    assert no_narrative in {parse_error(payload) for payload in INVALID_HL7V2}


def parse_error(payload: bytes) -> str:
    with pytest.raises(NoteRejected) as raised:
        parse_note(payload, LIMIT, LIMIT, NoteFormat.HL7V2)
    return raised.value.error


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=400), note_format=st.sampled_from(list(NoteFormat)))
def test_any_bytes_give_a_note_or_a_rejection(payload, note_format):
    with contextlib.suppress(NoteRejected):
        parse_note(payload, LIMIT, LIMIT, note_format)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(MDM_T02)), junk=st.text(max_size=20))
def test_a_truncated_or_spliced_hl7_message_gives_a_note_or_a_rejection(cut, junk):
    try:
        note = parse_note((MDM_T02[:cut] + junk).encode(), LIMIT, LIMIT, NoteFormat.HL7V2)
    except NoteRejected:
        return
    assert note.text.strip()


def test_files_of_messages_split_into_the_messages():
    hl7_file = "\n".join(m.strip("\x0b\x1c\r\n") for m in VALID_HL7V2.values()).encode()
    assert len(FORMATS[NoteFormat.HL7V2].split(hl7_file)) == 3
    mllp_file = b"".join(
        b"\x0b" + m.strip("\x0b\x1c\r\n").encode() + b"\x1c\r" for m in VALID_HL7V2.values()
    )
    assert [hl7(m.decode()).note_id for m in FORMATS[NoteFormat.HL7V2].split(mllp_file)] == [
        "DOC-77811", "DOC-77845", "RAD-88120"
    ]  # fmt: skip
    ndjson = "\n".join(json.dumps(r) for r in VALID_FHIR.values()).encode()
    assert len(FORMATS[NoteFormat.FHIR].split(ndjson)) == len(VALID_FHIR)
    assert FORMATS[NoteFormat.FHIR].split(json.dumps(BUNDLE, indent=2).encode()) != []
