"""What the student found in a note, as a FHIR R4 transaction Bundle (topic clinical.fhir).

Per note: a Condition for each disease or symptom of the patient (verificationStatus
`refuted` when the note negates it, `provisional` when it is possible or hypothetical, else
`unconfirmed`; a family member's is no Condition of the patient), a MedicationStatement for
each drug (`not-taken` when negated), an AdverseEvent for each adverse effect that is neither
negated nor a family member's (actuality `potential` when possible or hypothetical) with the
drugs it is paired with as suspectEntity, each pointing back at the source document, and a
Provenance naming the model version. Ids are hashes of note and offsets and every entry is a
PUT, so a note extracted twice (at-least-once delivery) writes the same resources again
instead of new ones.
"""

import hashlib
from datetime import datetime

from fhir.resources.R4B.adverseevent import AdverseEvent, AdverseEventSuspectEntity
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntryRequest
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.condition import Condition, ConditionEvidence
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.provenance import Provenance, ProvenanceAgent, ProvenanceEntity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource

from models.formats.fhir import source_resource, source_type
from models.labels import EntityType
from models.messages import ClinicalNote, Extraction
from models.spans import Entity

# Identifier systems for ids that are clinstream's, not a FHIR server's.
NOTE_ID_SYSTEM = "urn:clinstream:note-id"
PATIENT_ID_SYSTEM = "urn:clinstream:patient-id"
CONDITION_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def _id(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]


def _concept(entity: Entity) -> CodeableConcept:
    return CodeableConcept(
        coding=[Coding(system=c.system, code=c.code, display=c.display) for c in entity.codes]
        or None,
        text=entity.text,
    )


def _document(note: ClinicalNote) -> Reference:
    """The note as FHIR knows it: the source resource by id; a FHIR document known by an
    identifier by that identifier; any other note by ours."""
    if (resource := source_resource(note)) is not None:
        return Reference(reference=resource)
    if (kind := source_type(note)) is not None:
        return Reference(
            type=kind, identifier=Identifier(system=note.note_id_system or None, value=note.note_id)
        )
    return Reference(
        type="DocumentReference", identifier=Identifier(system=NOTE_ID_SYSTEM, value=note.note_id)
    )


def _subject(note: ClinicalNote) -> Reference:
    """The patient as the source named them: a FHIR Patient id as a literal reference, an
    identifier (an MRN) by its system, else by ours."""
    if note.patient_id is None:
        return Reference(display="patient not named in the source message")
    if note.patient_id_system is not None:
        return Reference(
            identifier=Identifier(system=note.patient_id_system, value=note.patient_id)
        )
    if source_type(note) is not None:
        return Reference(reference=f"Patient/{note.patient_id}")
    return Reference(identifier=Identifier(system=PATIENT_ID_SYSTEM, value=note.patient_id))


def _verification(entity: Entity) -> str:
    """FHIR condition-ver-status: what the note says of the condition, not a diagnosis."""
    if entity.negated:
        return "refuted"
    if entity.possible or entity.hypothetical:
        return "provisional"
    return "unconfirmed"


def findings_bundle(note: ClinicalNote, extraction: Extraction, recorded: datetime) -> Bundle:
    document, subject = _document(note), _subject(note)
    resources: list[Resource] = []
    drug_ids: dict[tuple[int, int], str] = {}
    for entity in extraction.entities:
        resource_id = _id(note.note_id, entity.type, entity.start, entity.end)
        if entity.type == EntityType.DRUG:
            drug_ids[entity.start, entity.end] = resource_id
            resources.append(
                MedicationStatement(
                    id=resource_id,
                    status="not-taken" if entity.negated else "unknown",
                    medicationCodeableConcept=_concept(entity),
                    subject=subject,
                    derivedFrom=[document],
                )
            )
        elif entity.type in (EntityType.DISEASE, EntityType.SYMPTOM) and not entity.family:
            resources.append(
                Condition(
                    id=resource_id,
                    verificationStatus=CodeableConcept(
                        coding=[Coding(system=CONDITION_STATUS, code=_verification(entity))]
                    ),
                    code=_concept(entity),
                    subject=subject,
                    evidence=[ConditionEvidence(detail=[document])],
                )
            )
    for entity in extraction.entities:
        if entity.type != EntityType.ADE or entity.negated or entity.family:
            continue
        suspects = [
            drug_ids[pair.drug.start, pair.drug.end]
            for pair in extraction.ade_pairs
            if (pair.effect.start, pair.effect.end) == (entity.start, entity.end)
            and (pair.drug.start, pair.drug.end) in drug_ids
        ]
        resources.append(
            AdverseEvent(
                id=_id(note.note_id, entity.type, entity.start, entity.end),
                actuality="actual" if entity.asserted else "potential",
                event=_concept(entity),
                subject=subject,
                suspectEntity=[
                    AdverseEventSuspectEntity(
                        instance=Reference(reference=f"MedicationStatement/{drug_id}")
                    )
                    for drug_id in suspects
                ]
                or None,
                referenceDocument=[document],
            )
        )
    if resources:
        resources.append(
            Provenance(
                id=_id(note.note_id, extraction.model_name, extraction.model_version),
                target=[Reference(reference=f"{r.get_resource_type()}/{r.id}") for r in resources],
                recorded=recorded,
                agent=[
                    ProvenanceAgent(
                        type=CodeableConcept(
                            coding=[Coding(system=PARTICIPANT_TYPE, code="assembler")]
                        ),
                        who=Reference(
                            display=f"clinstream {extraction.model_name} "
                            f"version {extraction.model_version}"
                        ),
                    )
                ],
                entity=[ProvenanceEntity(role="source", what=document)],
            )
        )
    return Bundle(
        type="transaction",
        entry=[
            BundleEntry(
                resource=resource,
                request=BundleEntryRequest(
                    method="PUT", url=f"{resource.get_resource_type()}/{resource.id}"
                ),
            )
            for resource in resources
        ]
        or None,
    )
