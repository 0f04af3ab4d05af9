"""What a note says of each finding, through the real broker, tritonserver and worker: the
Extraction carries each entity's assertion and section, a possible adverse effect is published
as a potential event, and a negated or a family member's finding is no event and no Condition
of the patient."""

import time

import pytest
from fhir.resources.R4B.bundle import Bundle

from models.messages import AdverseDrugEvent, ClinicalNote, Extraction
from streams import topics

pytestmark = pytest.mark.integration

# Demo-note wording, which the tiny student was distilled on.
NOTE = (
    "HISTORY OF PRESENT ILLNESS: 70-year-old male presents with cough. He denies nausea.\n"
    "He developed rash after starting amoxicillin.\n"
    "Counselled that metformin may cause diarrhea.\n"
    "FAMILY HISTORY: Mother with hypertension."
)


async def collect(kafka, note_id: str, timeout_s: float = 120.0):
    consumer = topics.consumer(kafka, kafka.entities_topic, kafka.ade_topic, kafka.fhir_topic,
                               auto_offset_reset="earliest")  # fmt: skip
    producer = topics.producer(kafka)
    await consumer.start()
    await producer.start()
    extraction, events, bundle = None, [], None
    try:
        note = ClinicalNote(note_id=note_id, text=NOTE, patient_id="p-ctx")
        await producer.send_and_wait(kafka.notes_topic, topics.encode(note), key=note_id.encode())
        deadline = time.monotonic() + timeout_s
        # Each pair is one ADE event; topics are read in no fixed order.
        while extraction is None or bundle is None or len(events) < len(extraction.ade_pairs):
            assert time.monotonic() < deadline, "outputs did not arrive in time"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.key != note_id.encode():
                        continue
                    if record.topic == kafka.entities_topic:
                        extraction = Extraction.model_validate_json(record.value)
                    elif record.topic == kafka.ade_topic:
                        events.append(AdverseDrugEvent.model_validate_json(record.value))
                    else:
                        bundle = Bundle.model_validate_json(record.value)
    finally:
        await producer.stop()
        await consumer.stop()
    return extraction, events, bundle


async def test_assertions_reach_the_extraction_the_ade_topic_and_fhir(runtime):
    extraction, events, bundle = await collect(runtime.kafka, "ctx-1")
    found = {e.text: e for e in extraction.entities}
    assert extraction.schema_version == 3
    for mention, asserted in (("nausea", "negated"), ("hypertension", "family")):
        assert mention in found, f"the tiny student missed {mention}"
        assert getattr(found[mention], asserted)
    assert found["hypertension"].section == "family_history"
    assert found["rash"].asserted and found["cough"].asserted

    # Whatever the student paired: each event says whether it happened, and none is negated
    # or a family member's (the in-process test in test_extraction.py pins each case).
    for event in events:
        assert event.actuality == ("actual" if event.effect.asserted else "potential")
        assert not (event.effect.negated or event.effect.family)
    assert "nausea" not in {event.effect.text for event in events}

    resources = [entry.resource for entry in bundle.entry]
    conditions = {r.code.text: r for r in resources if r.get_resource_type() == "Condition"}
    assert "hypertension" not in conditions  # the mother's, not the patient's
    if "nausea" in conditions:
        assert conditions["nausea"].verificationStatus.coding[0].code == "refuted"
    for adverse in (r for r in resources if r.get_resource_type() == "AdverseEvent"):
        effect = next(e for e in extraction.entities if e.text == adverse.event.text)
        assert adverse.actuality == ("actual" if effect.asserted else "potential")
        assert not (effect.negated or effect.family)
