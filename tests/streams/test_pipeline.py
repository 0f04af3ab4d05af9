"""Notes through the real broker, the Faust worker and the Triton-served tiny student."""

import asyncio
import json
import time

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from streams.schemas import AdverseDrugEvent, ClinicalNote, DeadLetter, Extraction
from trainer.demo_corpus import demo_notes, long_demo_note

pytestmark = pytest.mark.integration

SECRET = "Jane Doe MRN 998877"
MALFORMED = b'{"note_id": "bad-json", "text": "' + SECRET.encode()
EMPTY = json.dumps({"note_id": "empty-1", "text": "  "}).encode()


async def exchange(kafka, notes, extra_payloads, expected_letters, timeout_s=120.0):
    consumer = AIOKafkaConsumer(
        kafka.entities_topic,
        kafka.ade_topic,
        kafka.dead_letter_topic,
        bootstrap_servers=kafka.bootstrap,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await consumer.start()
    await producer.start()
    extractions, ades, letters = {}, [], []
    try:
        for note in notes:
            await producer.send(kafka.notes_topic, note.model_dump_json().encode(),
                                key=note.note_id.encode())  # fmt: skip
        for payload in extra_payloads:
            await producer.send(kafka.notes_topic, payload)
        await producer.flush()
        deadline = time.monotonic() + timeout_s
        while len(extractions) < len(notes) or len(letters) < expected_letters:
            assert time.monotonic() < deadline, "outputs did not arrive in time"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.topic == kafka.entities_topic:
                        extraction = Extraction.model_validate_json(record.value)
                        assert record.key == extraction.note_id.encode()
                        extractions[extraction.note_id] = extraction
                    elif record.topic == kafka.ade_topic:
                        ades.append(AdverseDrugEvent.model_validate_json(record.value))
                    else:
                        letters.append(DeadLetter.model_validate_json(record.value))
        # ADE events are sent before their note's Extraction; give stragglers a moment.
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            ades += [AdverseDrugEvent.model_validate_json(r.value) for r in records
                     if r.topic == kafka.ade_topic]  # fmt: skip
    finally:
        await producer.stop()
        await consumer.stop()
    return extractions, ades, letters


def worker_metrics(runtime) -> dict[tuple[str, tuple], float]:
    text = httpx.get(f"http://127.0.0.1:{runtime.worker.metrics_port}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_every_note_becomes_one_extraction_or_one_dead_letter(runtime):
    notes = [
        ClinicalNote(note_id=n.note_id, text=n.text, note_type=n.note_type, patient_id="p-1")
        for n in [*demo_notes(10, seed=99, prefix="it"), long_demo_note(seed=99)]
    ]
    extractions, ades, letters = await exchange(runtime.kafka, notes, [MALFORMED, EMPTY], 2)

    # Counts in = counts out + dead letters.
    assert sorted(extractions) == sorted(n.note_id for n in notes)
    assert len(letters) == 2
    by_id = {n.note_id: n for n in notes}
    for note_id, extraction in extractions.items():
        text = by_id[note_id].text
        assert extraction.model_name == "student"
        assert extraction.model_version == "1"
        assert extraction.patient_id == "p-1"
        assert all(text[e.start : e.end] == e.text for e in extraction.entities)
    assert sum(len(x.entities) for x in extractions.values()) > len(notes)
    long_note = by_id["long-0099"]
    assert max(e.end for e in extractions["long-0099"].entities) > len(long_note.text) * 0.8

    # One ADE message per pair, matching its Extraction.
    expected = sorted((x.note_id, p.drug.start, p.effect.start)
                      for x in extractions.values() for p in x.ade_pairs)  # fmt: skip
    assert sorted((a.note_id, a.drug.start, a.effect.start) for a in ades) == expected
    assert len({a.event_id for a in ades}) == len(ades)

    reasons = {letter.reason.value: letter for letter in letters}
    assert set(reasons) == {"invalid_json", "empty_text"}
    assert reasons["invalid_json"].payload() == MALFORMED
    assert reasons["empty_text"].note_id == "empty-1"
    assert all(letter.source_topic == runtime.kafka.notes_topic for letter in letters)
    assert all(SECRET not in letter.error for letter in letters)

    metrics = worker_metrics(runtime)
    assert metrics[("clinstream_notes_in_total", ())] >= len(notes) + 2
    assert metrics[("clinstream_notes_out_total", ())] >= len(notes)
    assert metrics[("clinstream_dead_letters_total", (("reason", "invalid_json"),))] >= 1
    assert metrics[("clinstream_dead_letters_total", (("reason", "empty_text"),))] >= 1
    assert metrics[("clinstream_serving_model_version", ())] == 1
    assert metrics[("clinstream_end_to_end_latency_seconds_count", ())] >= len(notes)

    # No note text in any service's log.
    await asyncio.sleep(0)
    for log_file in runtime.runtime.log_dir.glob("*.log"):
        content = log_file.read_text(errors="replace")
        assert SECRET not in content
        assert long_note.text[:60] not in content
