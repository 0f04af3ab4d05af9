"""Producing notes to and reading outputs from the real broker, and reading worker metrics."""

import time

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from streams.schemas import AdverseDrugEvent, DeadLetter, Extraction


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
        wanted = {note.note_id for note in notes}
        while not wanted <= extractions.keys() or len(letters) < expected_letters:
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
