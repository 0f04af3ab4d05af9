"""FHIR R4 Bundles of findings: valid, linked to their source, idempotent."""

import json
from datetime import UTC, datetime

from fhir.resources.R4B.bundle import Bundle

from models.codes import with_codes
from models.formats import NoteFormat, parse_note
from models.messages import ClinicalNote, Extraction
from models.spans import AdePair, Annotations, Entity
from streams.fhir_out import findings_bundle
from tests.hospital_messages import DOCUMENT_REFERENCE

TEXT = "Started amoxicillin, then developed rash. Denies fever. History of asthma."


def entity(kind: str, word: str, negated: bool = False) -> Entity:
    start = TEXT.index(word)
    return Entity(type=kind, start=start, end=start + len(word), text=word, confidence=0.9,
                  negated=negated)  # fmt: skip


def extraction() -> Extraction:
    drug, rash = entity("DRUG", "amoxicillin"), entity("ADE", "rash")
    found = with_codes(
        Annotations(
            entities=[drug, rash, entity("SYMPTOM", "fever", True), entity("DISEASE", "asthma")],
            ade_pairs=[AdePair(drug=drug, effect=rash, confidence=0.8)],
        )
    )
    return Extraction(note_id="n-1", model_name="student", model_version="4",
                      entities=found.entities, ade_pairs=found.ade_pairs)  # fmt: skip


def resources(bundle: Bundle) -> dict[str, list]:
    by_type: dict[str, list] = {}
    for entry in Bundle.model_validate_json(bundle.model_dump_json()).entry:
        by_type.setdefault(entry.resource.get_resource_type(), []).append(entry)
    return by_type


def test_a_bundle_holds_each_finding_linked_to_the_document_and_the_model_version():
    note = ClinicalNote(note_id="n-1", text=TEXT, patient_id="MRN-1")
    bundle = findings_bundle(note, extraction(), datetime.now(UTC))
    found = resources(bundle)
    assert sorted(found) == ["AdverseEvent", "Condition", "MedicationStatement", "Provenance"]
    statement = found["MedicationStatement"][0].resource
    assert statement.medicationCodeableConcept.coding[0].code == "DB01060"
    assert statement.derivedFrom[0].identifier.value == "n-1"
    statuses = {c.resource.code.text: c.resource.verificationStatus.coding[0].code
                for c in found["Condition"]}  # fmt: skip
    assert statuses == {"fever": "refuted", "asthma": "unconfirmed"}
    event = found["AdverseEvent"][0].resource
    assert event.suspectEntity[0].instance.reference == f"MedicationStatement/{statement.id}"
    assert event.referenceDocument[0].identifier.value == "n-1"
    provenance = found["Provenance"][0].resource
    assert "version 4" in provenance.agent[0].who.display
    assert len(provenance.target) == 4
    assert all(entry.request.method == "PUT" for entries in found.values() for entry in entries)
    again = findings_bundle(note, extraction(), datetime.now(UTC))
    assert [e.request.url for e in again.entry] == [e.request.url for e in bundle.entry]


def test_a_fhir_note_points_back_at_its_source_resource_and_patient():
    note = parse_note(json.dumps(DOCUMENT_REFERENCE).encode(), 10**6, 10**6, NoteFormat.FHIR)
    bundle = findings_bundle(note, extraction(), datetime.now(UTC))
    statement = resources(bundle)["MedicationStatement"][0].resource
    assert statement.derivedFrom[0].reference == "DocumentReference/docref-3001"
    assert statement.subject.reference == "Patient/pat-17"


def test_a_patient_named_by_identifier_stays_an_identifier():
    """An MRN is no Patient resource id: "Patient/<MRN>" would point at the wrong resource."""
    mrn = {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-0042"}
    source = {**DOCUMENT_REFERENCE, "subject": {"identifier": mrn}}
    note = parse_note(json.dumps(source).encode(), 10**6, 10**6, NoteFormat.FHIR)
    assert (note.patient_id, note.patient_id_system) == (mrn["value"], mrn["system"])
    statement = resources(findings_bundle(note, extraction(), datetime.now(UTC)))[
        "MedicationStatement"
    ][0].resource
    assert statement.subject.reference is None
    assert statement.subject.identifier.model_dump(exclude_none=True) == mrn
