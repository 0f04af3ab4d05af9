"""Synthetic ADE streams with planted disproportionate pairs, and what the signal agent does
with them: which pairs it flags, how many cases a second it sustains, its memory."""

import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from models.labels import EntityType
from models.messages import AdverseDrugEvent
from models.spans import Entity
from streams.settings import SignalSettings
from streams.signals import SignalTable, case_of, decoded_case
from streams.topics import encode

START = datetime(2026, 1, 1, tzinfo=UTC)


class PlantedPair(BaseModel):
    drug: int  # rank by popularity, 0 the most reported
    event: int
    extra_cases: int  # on top of what independence gives


# From the most reported drug and event to the rarest, each with fewer extra cases.
PLANTED = (
    PlantedPair(drug=0, event=0, extra_cases=300),
    PlantedPair(drug=5, event=20, extra_cases=25),
    PlantedPair(drug=50, event=100, extra_cases=8),
    PlantedPair(drug=120, event=250, extra_cases=5),
    PlantedPair(drug=199, event=299, extra_cases=4),
)


def drug_name(rank: int) -> str:
    return f"drug{rank:04d}"


def event_name(rank: int) -> str:
    return f"event{rank:04d}"


def _entity(kind: EntityType, text: str) -> Entity:
    return Entity(type=kind, start=0, end=len(text), text=text, confidence=0.9)


def ade_event(
    number: int, patient: str | None, drug: str, event: str, when: datetime, **effect_flags: bool
) -> AdverseDrugEvent:
    """An ADE event as the worker publishes it (flags such as negated=True on the effect)."""
    effect = _entity(EntityType.ADE, event).model_copy(update=effect_flags)
    return AdverseDrugEvent(
        event_id=f"ev-{number}", note_id=f"note-{number}", patient_id=patient,
        drug=_entity(EntityType.DRUG, drug), effect=effect, confidence=0.9,
        model_name="student", model_version="1", detected_at=when,
    )  # fmt: skip


def synthetic_events(
    cases: int = 20_000,
    drugs: int = 200,
    events: int = 300,
    planted: tuple[PlantedPair, ...] = PLANTED,
    seed: int = 7,
) -> list[AdverseDrugEvent]:
    """`cases` cases, one patient each, over 180 days: drugs and events drawn independently
    (Zipf-like popularity, s=0.8), plus the planted pairs' extra cases, in random order."""
    rng = random.Random(seed)
    drug_weights = [1 / (rank + 1) ** 0.8 for rank in range(drugs)]
    event_weights = [1 / (rank + 1) ** 0.8 for rank in range(events)]
    pairs = [(p.drug, p.event) for p in planted for _ in range(p.extra_cases)]
    background = cases - len(pairs)
    pairs += zip(
        rng.choices(range(drugs), drug_weights, k=background),
        rng.choices(range(events), event_weights, k=background),
        strict=True,
    )
    rng.shuffle(pairs)
    return [
        ade_event(
            i, f"patient-{i}", drug_name(d), event_name(e), START + timedelta(days=180 * i / cases)
        )  # fmt: skip
        for i, (d, e) in enumerate(pairs)
    ]


class PlantedResult(BaseModel):
    cases: int
    pairs: int
    planted_flagged: int
    planted: int
    unplanted_flagged: int


def flagged_pairs(events: list[AdverseDrugEvent], settings: SignalSettings) -> set[tuple[str, str]]:
    table = SignalTable(settings)
    for event in events:
        if (case := case_of(event)) is not None:
            table.add(case)
    return {(row.drug.display, row.event.display) for row in table.rows() if row.signal}


def planted_result(settings: SignalSettings, seed: int = 7) -> PlantedResult:
    events = synthetic_events(seed=seed)
    flagged = flagged_pairs(events, settings)
    planted = {(drug_name(p.drug), event_name(p.event)) for p in PLANTED}
    return PlantedResult(
        cases=len(events),
        pairs=len({(e.drug.text, e.effect.text) for e in events}),
        planted_flagged=len(planted & flagged),
        planted=len(planted),
        unplanted_flagged=len(flagged - planted),
    )


class SignalSpeed(BaseModel):
    cases: int
    pairs: int
    cases_per_s: float  # decoded from the wire, counted, scored a batch at a time
    table_mib: float  # Python heap the table holds at `pairs` pairs (tracemalloc)


def signal_speed(pairs: int = 100_000, cases: int = 300_000, batch: int = 500) -> SignalSpeed:
    """The agent's work (decode, count, score per batch) on `cases` cases over `pairs` pairs
    (1,000 drugs; every pair reported at least once), and the table's memory."""
    drugs = 1000
    records = [
        encode(
            case_of(
                ade_event(
                    i, f"p{i}", drug_name(i % pairs % drugs), event_name(i % pairs // drugs), START
                )
            )
        )  # fmt: skip
        for i in range(cases)
    ]
    started = time.perf_counter()
    _count(records, batch)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    table = _count(records, batch)
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return SignalSpeed(cases=cases, pairs=len(table.rows()), cases_per_s=round(cases / elapsed),
                       table_mib=round(held / 2**20, 1))  # fmt: skip


def _count(records: list[bytes], batch: int) -> SignalTable:
    table = SignalTable(SignalSettings(batch_size=batch))
    for offset, value in enumerate(records):
        table.add(decoded_case(value))
        if (offset + 1) % batch == 0:
            table.changes(offset)
    return table
