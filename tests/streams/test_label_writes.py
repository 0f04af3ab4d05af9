"""A teacher label the store refuses (a full disk) is retried, then dead-lettered and counted:
never dropped without a trace, and the agent goes on."""

import sqlite3
from types import SimpleNamespace

from models.messages import DeadLetter, DeadLetterReason, SampleReason, TeacherLabel
from models.spans import Annotations
from streams import metrics
from streams.extraction import OutputTopics
from streams.teacher_loop import store_label


class FullDisk:
    def __init__(self) -> None:
        self.tries = 0

    def add(self, _label: TeacherLabel) -> None:
        self.tries += 1
        raise sqlite3.OperationalError("database or disk is full")


class Topic:
    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def send(self, key: bytes | None = None, value: bytes = b"") -> None:
        self.sent.append(DeadLetter.model_validate_json(value))


async def test_a_label_the_store_refuses_is_retried_then_dead_lettered_and_counted():
    empty = Annotations(entities=[], ade_pairs=[])
    label = TeacherLabel(note_id="n-7", text="Rash after amoxicillin.", reason=SampleReason.RANDOM,
                         teacher_name="lexicon", teacher_version="1", teacher=empty,
                         student=empty, student_model_version="1", teacher_seconds=0.1)  # fmt: skip
    event = SimpleNamespace(
        value=label.model_dump_json().encode(),
        message=SimpleNamespace(topic="clinical.teacher.labels", partition=0, offset=41),
    )
    letters = Topic()
    topics = OutputTopics(entities=Topic(), ade=Topic(), dead_letters=letters,
                          teacher_requests=Topic())  # fmt: skip
    store, before = FullDisk(), metrics.LABEL_STORE_FAILURES._value.get()
    assert not await store_label(event, label, store, topics, 1 << 20, attempts=2)
    assert store.tries == 2
    (letter,) = letters.sent
    assert letter.reason == DeadLetterReason.LABEL_STORE_FAILED and letter.note_id == "n-7"
    assert "Rash" not in letter.error and letter.payload() == event.value
    assert metrics.LABEL_STORE_FAILURES._value.get() == before + 1
