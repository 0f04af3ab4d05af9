"""BatchProcessor in process: a fake student and in-memory topics, no broker or Triton.

The integration tests cover the wiring; these cover what a batch becomes: one outcome per
message, whatever else is in the batch."""

import json
from types import SimpleNamespace

from fhir.resources.R4B.bundle import Bundle

from models.decoding import annotate
from models.labels import EntityType
from models.messages import AdverseDrugEvent, DeadLetter, DeadLetterReason, Extraction
from models.spans import Annotations, Entity
from streams.extraction import BatchProcessor, OutputTopics
from streams.sampling import Sampler
from streams.settings import TritonSettings, WorkerSettings
from streams.triton_client import StudentResult

NOTES_TOPIC = "clinical.notes"


class FakeStudent:
    """Finds "aspirin"; fails any request holding a poisoned text, as Triton does."""

    def __init__(self) -> None:
        self.requests: list[int] = []

    async def extract(self, texts: list[str]) -> StudentResult:
        self.requests.append(len(texts))
        if any("POISON" in text for text in texts):
            raise RuntimeError("the model failed")
        return StudentResult([self._read(text) for text in texts], "3", 0.01)

    @staticmethod
    def _read(text: str) -> Annotations:
        start = text.find("aspirin")
        found = [] if start < 0 else [
            Entity(type=EntityType.DRUG, start=start, end=start + 7, text="aspirin",
                   confidence=0.9)
        ]  # fmt: skip
        return Annotations(entities=found, ade_pairs=[])

    async def ready(self) -> bool:
        return True

    async def wait_until_ready(self) -> None: ...


class Topic:
    """An in-memory topic: what was sent, decoded."""

    def __init__(self, model) -> None:
        self.model = model
        self.sent: list = []

    async def send(self, key: bytes | None = None, value: bytes = b"") -> None:
        self.sent.append(self.model.model_validate_json(value))


def event(value: bytes, offset: int) -> SimpleNamespace:
    message = SimpleNamespace(topic=NOTES_TOPIC, partition=0, offset=offset, timestamp=0.0,
                              incref=lambda: None)  # fmt: skip
    happened = SimpleNamespace(value=value, message=message, acked=False)
    happened.ack = lambda: setattr(happened, "acked", True)
    return happened


def note(note_id: str, text: str) -> bytes:
    return json.dumps({"note_id": note_id, "text": text}).encode()


async def test_a_batch_ends_in_one_outcome_per_message_beside_poison_and_garbage():
    entities, letters = Topic(Extraction), Topic(DeadLetter)
    topics = OutputTopics(entities=entities, ade=Topic(Extraction), dead_letters=letters,
                          teacher_requests=Topic(Extraction))  # fmt: skip
    student = FakeStudent()
    processor = BatchProcessor(
        student, topics, {NOTES_TOPIC: "json"}, WorkerSettings(batch_size=4),
        TritonSettings(retries=0), Sampler(0.0, 0.0, 0),
    )  # fmt: skip
    events = [
        event(note("a", "Took aspirin daily."), 0),
        event(note("b", "POISON in the text."), 1),
        event(b'{"note_id": "c", "text": ', 2),
        event(note("d", "No medication."), 3),
    ]
    await processor.process(events)
    assert [x.note_id for x in entities.sent] == ["a", "d"]
    assert [e.text for e in entities.sent[0].entities] == ["aspirin"]
    assert entities.sent[0].model_version == "3"
    assert {(x.note_id, x.reason) for x in letters.sent} == {
        ("b", DeadLetterReason.INFERENCE_FAILED), (None, DeadLetterReason.INVALID_JSON)
    }  # fmt: skip
    assert all(e.acked for e in events)  # every offset can be committed
    # The batch failed whole, then split until the poisoned note failed alone.
    assert student.requests[0] == 3 and student.requests[-1] == 1


class ContextStudent(FakeStudent):
    """Reads fixed mentions and annotates them as the Triton model does (ConText, pairing)."""

    MENTIONS = {"amoxicillin": EntityType.DRUG, "metformin": EntityType.DRUG,
                "rash": EntityType.ADE, "diarrhea": EntityType.ADE, "nausea": EntityType.ADE,
                "hypertension": EntityType.ADE}  # fmt: skip

    @classmethod
    def _read(cls, text: str) -> Annotations:
        entities = []
        for mention, entity_type in cls.MENTIONS.items():
            if (start := text.lower().find(mention)) >= 0:
                end = start + len(mention)
                entities.append(Entity(type=entity_type, start=start, end=end,
                                       text=text[start:end], confidence=0.9))  # fmt: skip
        return annotate(text, sorted(entities, key=lambda e: e.start))


async def test_each_assertion_decides_the_ade_event_and_the_fhir_resources():
    text = (
        "Rash developed after amoxicillin. Metformin may cause diarrhea. "
        "Denies nausea on metformin.\nFAMILY HISTORY: hypertension on amoxicillin."
    )
    entities, ades, bundles = Topic(Extraction), Topic(AdverseDrugEvent), Topic(Bundle)
    topics = OutputTopics(entities=entities, ade=ades, dead_letters=Topic(DeadLetter),
                          teacher_requests=Topic(Extraction), fhir=bundles)  # fmt: skip
    processor = BatchProcessor(
        ContextStudent(), topics, {NOTES_TOPIC: "json"}, WorkerSettings(), TritonSettings(),
        Sampler(0.0, 0.0, 0),
    )  # fmt: skip
    await processor.process([event(note("ctx", text), 0)])
    (extraction,) = entities.sent
    found = {e.text.lower(): e for e in extraction.entities}
    assert found["rash"].asserted and found["diarrhea"].possible
    assert found["nausea"].negated and found["hypertension"].family
    assert {(a.effect.text.lower(), a.actuality) for a in ades.sent} == {
        ("rash", "actual"), ("diarrhea", "potential")
    }  # fmt: skip
    (bundle,) = bundles.sent
    adverse = {r.resource.event.text.lower(): r.resource.actuality for r in bundle.entry
               if r.resource.get_resource_type() == "AdverseEvent"}  # fmt: skip
    assert adverse == {"rash": "actual", "diarrhea": "potential"}


async def test_a_long_note_delays_no_other_note_and_comes_in_small_requests():
    timeline: list[str] = []

    class Recording(FakeStudent):
        async def extract(self, texts):
            timeline.append(f"request of {sum(map(len, texts))} chars")
            return await super().extract(texts)

    class Entities(Topic):
        async def send(self, key=None, value=b""):
            await super().send(key, value)
            timeline.append(f"published {self.sent[-1].note_id}")

    topics = OutputTopics(
        entities=Entities(Extraction), ade=Topic(AdverseDrugEvent),
        dead_letters=Topic(DeadLetter), teacher_requests=Topic(Extraction),
    )  # fmt: skip
    worker = WorkerSettings(batch_size=16, chunk_chars=1000, request_chars=3000)
    processor = BatchProcessor(Recording(), topics, {NOTES_TOPIC: "json"}, worker,
                               TritonSettings(), Sampler(0.0, 0.0, 0))  # fmt: skip
    long_text = "Took aspirin daily.\n" * 600  # 12,000 characters: 13 chunks or so
    events = [event(note("short-1", "aspirin"), 0), event(note("long", long_text), 1),
              event(note("short-2", "no drug"), 2)]  # fmt: skip
    await processor.process(events)  # returns with the long note in its own lane
    assert [e.acked for e in events] == [True, False, True]
    await processor.finish()
    assert events[1].acked
    assert timeline[:3] == ["request of 14 chars", "published short-1", "published short-2"]
    requests = [int(line.split()[2]) for line in timeline if line.startswith("request")]
    assert len(requests) >= 5 and max(requests[1:]) <= 3000
    assert timeline[-1] == "published long"
