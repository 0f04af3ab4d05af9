"""HL7 v2 and FHIR messages through the real broker, tritonserver and worker, and offline."""

import json
import time

import pytest
from fhir.resources.R4B.bundle import Bundle

from models.formats import NoteFormat, parse_note
from models.messages import DeadLetter, Extraction, content_hash
from streams import topics
from tests.hospital_messages import (
    DOCUMENT_REFERENCE_BY_IDENTIFIER,
    FHIR_SPEC_EXAMPLES,
    INVALID_FHIR,
    INVALID_HL7V2,
    MDM_GB18030,
    MDM_PROBLEM_LIST,
    MULTI_DOCUMENT_BUNDLE,
    ORU_CASE_NOTIFICATION,
    ORU_TWO_ORDERS,
    SECRET,
    VALID_FHIR,
    VALID_HL7V2,
)
from tests.trainer.test_batch_commands import run

pytestmark = pytest.mark.integration

LIMIT = 1_000_000


def messages(kafka) -> list[tuple[str, NoteFormat, bytes, str | None]]:
    """(topic, format, payload, expected dead-letter reason or None) of every test message."""
    hl7, fhir = kafka.hl7v2_notes_topic, kafka.fhir_notes_topic
    return (
        [(hl7, NoteFormat.HL7V2, m.encode(), None) for m in VALID_HL7V2.values()]
        # As Windows tools write it: a UTF-8 byte-order mark before MSH.
        + [(hl7, NoteFormat.HL7V2, b"\xef\xbb\xbf" + VALID_HL7V2["MDM_T02"].encode(), None)]
        + [(hl7, NoteFormat.HL7V2, MDM_GB18030, None)]  # MSH-18 names GB 18030
        + [(fhir, NoteFormat.FHIR, json.dumps(DOCUMENT_REFERENCE_BY_IDENTIFIER).encode(), None)]
        + [(fhir, NoteFormat.FHIR, json.dumps(r).encode(), None) for r in VALID_FHIR.values()]
        + [(hl7, NoteFormat.HL7V2, p, reason) for p, reason in INVALID_HL7V2.items()]
        + [(fhir, NoteFormat.FHIR, p, reason) for p, reason in INVALID_FHIR.items()]
        + [(fhir, NoteFormat.FHIR, p, reason) for p, reason in FHIR_SPEC_EXAMPLES.values()]
    )


async def test_every_hospital_message_yields_one_extraction_or_one_dead_letter(
    runtime, tmp_path, tiny_student
):
    kafka = runtime.kafka
    sent = messages(kafka)
    consumer = topics.consumer(
        kafka, kafka.entities_topic, kafka.dead_letter_topic, kafka.fhir_topic,
        auto_offset_reset="earliest",
    )  # fmt: skip
    producer = topics.producer(kafka)
    await consumer.start()
    await producer.start()
    outcomes: dict[tuple[str, int, int], list[Extraction | DeadLetter]] = {}
    bundles: dict[str, Bundle] = {}
    try:
        where = []
        for topic, _, payload, _ in sent:
            meta = await (await producer.send(topic, payload))
            where.append((topic, meta.partition, meta.offset))
        deadline = time.monotonic() + 120
        while not all(w in outcomes for w in where):
            assert time.monotonic() < deadline, "some messages have no outcome"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.topic == kafka.fhir_topic:
                        bundles[record.key.decode()] = Bundle.model_validate_json(record.value)
                        continue
                    model = Extraction if record.topic == kafka.entities_topic else DeadLetter
                    outcome = model.model_validate_json(record.value)
                    key = (outcome.source_topic, outcome.source_partition, outcome.source_offset)
                    outcomes.setdefault(key, []).append(outcome)
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            bundles |= {r.key.decode(): Bundle.model_validate_json(r.value) for r in records
                        if r.topic == kafka.fhir_topic}  # fmt: skip
    finally:
        await producer.stop()
        await consumer.stop()

    # Counts in = counts out + dead letters: one outcome per message.
    assert all(len(outcomes[w]) == 1 for w in where)
    valid = 0
    for (_, note_format, payload, reason), at in zip(sent, where, strict=True):
        [outcome] = outcomes[at]
        if reason is not None:
            assert isinstance(outcome, DeadLetter)
            assert outcome.reason.value == reason
            assert outcome.payload() == payload
            assert SECRET not in outcome.error
            continue
        valid += 1
        note = parse_note(payload, LIMIT, LIMIT, note_format)
        assert isinstance(outcome, Extraction)
        assert (outcome.note_id, outcome.patient_id, outcome.encounter_id) == (
            note.note_id, note.patient_id, note.encounter_id
        )  # fmt: skip
        assert all(note.text[e.start : e.end] == e.text for e in outcome.entities)
        assert outcome.content_sha256 == content_hash(note.text)  # the same document, twice
        if outcome.entities:
            assert note.note_id in bundles  # a FHIR Bundle of what was found
    # Only this test's messages: other tests share the runtime's topics.
    extractions = [o for w in where for o in outcomes[w] if isinstance(o, Extraction)]
    spec_notes = sum(reason is None for _, reason in FHIR_SPEC_EXAMPLES.values())
    assert valid == len(extractions) == len(VALID_HL7V2) + 3 + len(VALID_FHIR) + spec_notes
    # A document known by identifier is referred to by it, not as a resource id.
    evidence = [r.resource for r in bundles["DOC-3009"].entry
                if r.resource.get_resource_type() == "Provenance"][0].entity[0].what  # fmt: skip
    assert evidence.reference is None
    assert (evidence.identifier.system, evidence.identifier.value) == ("urn:oid:1.2.3.4.5",
                                                                       "DOC-3009")  # fmt: skip
    assert sum(len(x.entities) for x in extractions) > 0
    assert any(e.codes for x in extractions for e in x.entities)

    # Offline, `clinstream extract --format` finds the same entities with the same codes.
    offline = {x.note_id: x for x in extract_offline(tmp_path, tiny_student)}
    assert offline.keys() <= {x.note_id for x in extractions}
    streamed = {x.note_id: x for x in extractions}
    for note_id, found in offline.items():
        assert [(e.start, e.end, e.type, e.codes) for e in streamed[note_id].entities] == [
            (e.start, e.end, e.type, e.codes) for e in found.entities
        ]

    # No text of a malformed message in any service's log.
    for log_file in runtime.runtime.log_dir.glob("*.log"):
        assert SECRET not in log_file.read_text(errors="replace")


def extract_offline(tmp_path, student) -> list[Extraction]:
    """Every valid test message through `clinstream extract`, one file per format (an invalid
    message in the HL7 file is skipped with its reason)."""
    hl7_file = tmp_path / "messages.hl7"
    hl7_file.write_bytes(
        b"".join(m.encode() for m in VALID_HL7V2.values())
        + b"\x0b" + next(iter(INVALID_HL7V2)) + b"\x1c\r"
    )  # fmt: skip
    fhir_file = tmp_path / "resources.ndjson"
    fhir_file.write_text("\n".join(json.dumps(r) for r in VALID_FHIR.values()) + "\n")
    found = []
    for path, note_format, valid in (
        (hl7_file, NoteFormat.HL7V2, VALID_HL7V2),
        (fhir_file, NoteFormat.FHIR, VALID_FHIR),
    ):
        output = tmp_path / f"{note_format.value}.jsonl"
        run("extract", "--model", str(student), "--input", str(path),
            "--format", note_format.value, "--output", str(output))  # fmt: skip
        lines = [Extraction.model_validate_json(line) for line in output.read_text().splitlines()]
        assert len(lines) == len(valid)
        payloads = [m.encode() if isinstance(m, str) else json.dumps(m).encode()
                    for m in valid.values()]  # fmt: skip
        for extraction, payload in zip(lines, payloads, strict=True):
            note = parse_note(payload, LIMIT, LIMIT, note_format)
            assert (extraction.note_id, extraction.patient_id) == (note.note_id, note.patient_id)
            assert all(note.text[e.start : e.end] == e.text for e in extraction.entities)
        found += lines
    return found


async def outcomes_of(kafka, sent: list[tuple[str, bytes]], expected: int) -> dict:
    """Send each (topic, payload); read until `expected` outcomes answer them, keyed by the
    message they answer (topic, partition, offset) in the order sent."""
    consumer = topics.consumer(kafka, kafka.entities_topic, kafka.dead_letter_topic,
                               auto_offset_reset="earliest")  # fmt: skip
    producer = topics.producer(kafka)
    await consumer.start()
    await producer.start()
    answers: dict[tuple[str, int, int], list[Extraction | DeadLetter]] = {}
    try:
        for topic, payload in sent:
            meta = await (await producer.send(topic, payload))
            answers[(topic, meta.partition, meta.offset)] = []
        deadline = time.monotonic() + 120
        while sum(map(len, answers.values())) < expected:
            assert time.monotonic() < deadline, "some documents have no outcome"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    model = Extraction if record.topic == kafka.entities_topic else DeadLetter
                    outcome = model.model_validate_json(record.value)
                    at = (outcome.source_topic, outcome.source_partition, outcome.source_offset)
                    if at in answers:
                        answers[at].append(outcome)
    finally:
        await producer.stop()
        await consumer.stop()
    return answers


async def test_a_bundle_of_several_documents_gives_one_outcome_per_document(runtime):
    kafka = runtime.kafka
    sent = [(kafka.fhir_notes_topic, json.dumps(MULTI_DOCUMENT_BUNDLE).encode())]
    [outcomes] = (await outcomes_of(kafka, sent, 3)).values()
    by_id = {outcome.note_id: outcome for outcome in outcomes}
    assert set(by_id) == {"docref-3001", "report-812", "docref-pdf"}
    assert isinstance(by_id["docref-3001"], Extraction)
    assert isinstance(by_id["report-812"], Extraction)
    letter = by_id["docref-pdf"]
    assert isinstance(letter, DeadLetter) and letter.reason.value == "unsupported_message"
    assert SECRET not in letter.error


async def test_orders_case_notifications_and_problem_lists_as_they_come(runtime):
    kafka = runtime.kafka
    sent = [(kafka.hl7v2_notes_topic, m.encode())
            for m in (ORU_TWO_ORDERS, ORU_CASE_NOTIFICATION, MDM_PROBLEM_LIST)]  # fmt: skip
    orders, notification, problems = (await outcomes_of(kafka, sent, 4)).values()
    assert sorted(o.note_id for o in orders) == ["PATH-3302", "RAD-90001"]
    assert all(isinstance(o, Extraction) for o in orders)
    [letter] = notification
    assert isinstance(letter, DeadLetter) and letter.reason.value == "unsupported_message"
    [extraction] = problems
    note = parse_note(MDM_PROBLEM_LIST.encode(), LIMIT, LIMIT, NoteFormat.HL7V2)
    listed = note.text.index("Generalized")
    assert not any("\n " in e.text for e in extraction.entities if e.start >= listed)
