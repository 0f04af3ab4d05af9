"""Producing notes to and reading outputs from the real broker, and reading worker metrics."""

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from models.messages import AdverseDrugEvent, DeadLetter, Extraction
from streams import topics


async def exchange(kafka, notes, extra_payloads, expected_letters, timeout_s=120.0):
    consumer = topics.consumer(
        kafka,
        kafka.entities_topic,
        kafka.ade_topic,
        kafka.dead_letter_topic,
        auto_offset_reset="earliest",
    )
    producer = topics.producer(kafka)
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
                        if extraction.note_id in wanted:  # not another test's
                            extractions[extraction.note_id] = extraction
                    elif record.topic == kafka.ade_topic:
                        ades.append(AdverseDrugEvent.model_validate_json(record.value))
                    else:
                        letter = DeadLetter.model_validate_json(record.value)
                        if letter.source_topic == kafka.notes_topic:
                            letters.append(letter)
        # ADE events are sent before their note's Extraction; give stragglers a moment.
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            ades += [AdverseDrugEvent.model_validate_json(r.value) for r in records
                     if r.topic == kafka.ade_topic]  # fmt: skip
    finally:
        await producer.stop()
        await consumer.stop()
    return extractions, [ade for ade in ades if ade.note_id in wanted], letters


def worker_metrics(runtime, port=None) -> dict[tuple[str, tuple], float]:
    port = port or runtime.worker.metrics_port
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def produce(kafka, records, max_request_size=16 * 1024 * 1024):
    """(key, value) pairs to the notes topic -> where each landed, (partition, offset)."""
    producer = topics.producer(kafka, max_request_size=max_request_size)  # fmt: skip
    await producer.start()
    try:
        sent = [await producer.send(kafka.notes_topic, value, key=key) for key, value in records]
        return [((meta := await future).partition, meta.offset) for future in sent]
    finally:
        await producer.stop()


class Outcomes:
    """Extractions and dead letters by the (partition, offset) of the message they answer."""

    def __init__(self, kafka):
        self.kafka = kafka
        self.extractions: dict[tuple[int, int], list[Extraction]] = {}
        self.letters: dict[tuple[int, int], list[DeadLetter]] = {}
        self.arrivals: list[float] = []  # monotonic time of each Extraction
        self.consumer = topics.consumer(kafka, kafka.entities_topic, kafka.dead_letter_topic,
            auto_offset_reset="earliest", fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )  # fmt: skip

    async def __aenter__(self):
        await self.consumer.start()
        return self

    async def __aexit__(self, *_exc):
        await self.consumer.stop()

    def answered(self, where) -> bool:
        return where in self.extractions or where in self.letters

    async def wait_for(self, wanted, timeout_s, until=None):
        """Read until every (partition, offset) in `wanted` has an outcome."""
        deadline = time.monotonic() + timeout_s
        while not all(self.answered(where) for where in wanted):
            missing = [where for where in wanted if not self.answered(where)]
            assert time.monotonic() < deadline, f"{len(missing)} messages have no outcome"
            await self.read()
            if until is not None:
                await until(self)

    async def read(self) -> None:
        """One fetch of whatever arrived."""
        for records in (await self.consumer.getmany(timeout_ms=500)).values():
            for record in records:
                if record.topic == self.kafka.entities_topic:
                    extraction = Extraction.model_validate_json(record.value)
                    if extraction.source_topic != self.kafka.notes_topic:
                        continue  # another test's message
                    where = (extraction.source_partition, extraction.source_offset)
                    self.extractions.setdefault(where, []).append(extraction)
                    self.arrivals.append(time.monotonic())
                else:
                    letter = DeadLetter.model_validate_json(record.value)
                    if letter.source_topic == self.kafka.notes_topic:
                        where = (letter.source_partition, letter.source_offset)
                        self.letters.setdefault(where, []).append(letter)
