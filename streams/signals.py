"""Pharmacovigilance signals on the stream: ADE events -> deduplicated cases -> the 2x2 table of
every drug-event pair -> a message when a pair becomes, or stops being, a signal.

State, the Kafka way, on a broker whose offsets lie: the cases topic (one partition, compacted)
is the state. Every case is written there keyed by its identity (patient or note, drug
concept, event concept), so a replayed or repeated event writes the same key and the table,
which keeps the set of case ids, counts it once: counts are exact under at-least-once delivery.
The one worker that owns the partition rebuilds its table, when it receives a record it did not
expect (after a start, a crash or a rebalance), by reading the partition from offset 0 up to
that record's offset (a known offset, so Tansu's wrong high watermarks play no part), and
continues from there: the table after offset k is the same whichever worker built it, and
whether or not one was killed.

Some 320 lines in one module: case identity, the table and its rebuild belong together, since
the exactness of the counts rests on the three agreeing.
"""

import hashlib
import heapq
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from models.codes import DRUGBANK, HPO, MESH, UMLS
from models.messages import (
    AdeCase,
    AdverseDrugEvent,
    Concept,
    Disproportionality,
    NoteRejected,
    SignalChange,
    decode_message,
)
from models.spans import Entity
from streams import metrics
from streams.disproportionality import Measures, criteria_met, is_signal, measures
from streams.settings import KafkaSettings, SignalSettings
from streams.topics import read_partition

log = logging.getLogger(__name__)
# Code systems a concept is keyed by, in order of preference; all ship with measured precision.
DRUG_SYSTEMS = (DRUGBANK, MESH)
EVENT_SYSTEMS = (HPO, UMLS, MESH)
_SPACES = re.compile(r"\s+")


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def concept_of(entity: Entity, systems: tuple[str, ...]) -> Concept:
    """The concept a mention names: its first code in a trusted system, else its text."""
    for system in systems:
        for code in entity.codes:
            if code.system == system:
                return Concept(
                    key=f"{system}|{code.code}",
                    display=code.display or entity.text,
                    codes=entity.codes,
                )
    text = _SPACES.sub(" ", entity.text.strip().lower())
    return Concept(key=f"text|{text}", display=text, codes=entity.codes)


def case_of(event: AdverseDrugEvent) -> AdeCase | None:
    """The case an ADE event reports, or None if it reports none that happened: a potential
    event, or an effect negated, possible, hypothetical or a family member's."""
    if event.actuality != "actual" or not event.effect.asserted or event.drug.negated:
        return None
    drug = concept_of(event.drug, DRUG_SYSTEMS)
    effect = concept_of(event.effect, EVENT_SYSTEMS)
    subject = f"patient|{event.patient_id}" if event.patient_id else f"note|{event.note_id}"
    return AdeCase(
        case_id=_hash(subject, drug.key, effect.key),
        drug=drug,
        event=effect,
        note_id=event.note_id,
        reported_at=event.detected_at,
    )


@dataclass
class SignalRow:
    """One pair of the current table, for `clinstream signals`."""

    drug: Concept
    event: Concept
    statistics: Disproportionality
    criteria_met: list[str]
    signal: bool

    def flat(self) -> dict[str, object]:
        """One CSV row: the concepts, the verdict, the 2x2 table and its measures."""
        return {
            "drug": self.drug.display, "drug_key": self.drug.key,
            "event": self.event.display, "event_key": self.event.key,
            "signal": self.signal, "criteria_met": " ".join(self.criteria_met),
            **self.statistics.model_dump(),
        }  # fmt: skip


class SignalTable:
    """Distinct cases counted into every drug-event pair's 2x2 table, cumulatively or over a
    window of case time; scoring says which pairs are signals and which changed."""

    def __init__(self, settings: SignalSettings) -> None:
        self.settings = settings
        self.next_offset = 0  # of the cases topic: the next record this table expects
        self._case_ids: set[str] = set()
        # Concepts once each; a pair is two indices into them (10^5 pairs in tens of MiB).
        self._drugs: list[Concept] = []
        self._events: list[Concept] = []
        self._drug_index: dict[str, int] = {}
        self._event_index: dict[str, int] = {}
        self._pair_index: dict[tuple[int, int], int] = {}
        self._pair_drug: list[int] = []
        self._pair_event: list[int] = []
        self._pair_cases = np.zeros(0, dtype=np.int64)
        self._drug_cases = np.zeros(0, dtype=np.int64)
        self._event_cases = np.zeros(0, dtype=np.int64)
        self._signal = np.zeros(0, dtype=bool)
        self.cases = 0  # counted now (in the window, if one is set)
        self.newest: datetime | None = None
        self._in_window: list[tuple[datetime, int]] = []  # (case time, pair) min-heap

    @property
    def basis(self) -> str:
        days = self.settings.window_days
        return "all cases" if days is None else f"cases of the last {days:g} days"

    @property
    def signals(self) -> int:
        return int(self._signal.sum())

    def add(self, case: AdeCase) -> bool:
        """Count a case unless already counted; True if it was new."""
        if case.case_id in self._case_ids:
            return False
        self._case_ids.add(case.case_id)
        if self.newest is None or case.reported_at > self.newest:
            self.newest = case.reported_at
        window = self.settings.window_days
        if window is not None and case.reported_at < self.newest - timedelta(days=window):
            return True  # a late case, already outside the window
        pair = self._pair(case)
        self._count(pair, +1)
        if window is not None:
            heapq.heappush(self._in_window, (case.reported_at, pair))
            self._expire(self.newest - timedelta(days=window))
        return True

    def score(self) -> tuple[Measures, dict[str, np.ndarray], np.ndarray]:
        a = self._pair_cases[: len(self._pair_drug)]
        b = self._drug_cases[self._pair_drug] - a
        c = self._event_cases[self._pair_event] - a
        m = measures(a, b, c, self.cases - a - b - c)
        met = criteria_met(m, self.settings)
        return m, met, is_signal(met, self.settings)

    def changes(self, case_offset: int) -> list[SignalChange]:
        """Score every pair; the pairs whose signal status changed since the last scoring."""
        m, met, signal = self.score()
        changed = np.flatnonzero(signal != self._signal[: len(signal)])
        self._signal[: len(signal)] = signal
        return [
            SignalChange(
                pair_id=self.pair_id(i),
                drug=self._drugs[self._pair_drug[i]],
                event=self._events[self._pair_event[i]],
                signal=bool(signal[i]),
                criteria_met=[name for name, meets in met.items() if meets[i]],
                criteria_required=self.settings.require,
                statistics=_statistics(m, i),
                basis=self.basis,
                cases_total=self.cases,
                case_offset=case_offset,
                changed_at=self.newest,
            )
            for i in changed
        ]

    def rows(self) -> list[SignalRow]:
        m, met, signal = self.score()
        return [
            SignalRow(
                drug=self._drugs[self._pair_drug[i]],
                event=self._events[self._pair_event[i]],
                statistics=_statistics(m, i),
                criteria_met=[name for name, meets in met.items() if meets[i]],
                signal=bool(signal[i]),
            )
            for i in range(len(self._pair_drug))
            if m.a[i] > 0
        ]

    def pair_id(self, pair: int) -> str:
        drug, event = self._drugs[self._pair_drug[pair]], self._events[self._pair_event[pair]]
        return _hash(drug.key, event.key)

    def _pair(self, case: AdeCase) -> int:
        key = (
            _index(self._drug_index, self._drugs, case.drug),
            _index(self._event_index, self._events, case.event),
        )
        if key not in self._pair_index:
            self._pair_index[key] = len(self._pair_drug)
            self._pair_drug.append(key[0])
            self._pair_event.append(key[1])
            self._pair_cases = _fit(self._pair_cases, len(self._pair_drug))
            self._signal = _fit(self._signal, len(self._pair_drug))
            self._drug_cases = _fit(self._drug_cases, len(self._drugs))
            self._event_cases = _fit(self._event_cases, len(self._events))
        return self._pair_index[key]

    def _count(self, pair: int, step: int) -> None:
        self._pair_cases[pair] += step
        self._drug_cases[self._pair_drug[pair]] += step
        self._event_cases[self._pair_event[pair]] += step
        self.cases += step

    def _expire(self, oldest: datetime) -> None:
        while self._in_window and self._in_window[0][0] < oldest:
            _time, pair = heapq.heappop(self._in_window)
            self._count(pair, -1)


def _index(index: dict[str, int], concepts: list[Concept], concept: Concept) -> int:
    """The concept's number, the first of its key seen kept for its display and codes."""
    if concept.key not in index:
        index[concept.key] = len(concepts)
        concepts.append(concept)
    return index[concept.key]


def _fit(values: np.ndarray, size: int) -> np.ndarray:
    """The array grown (doubling) to hold `size` entries."""
    if size <= len(values):
        return values
    grown = np.zeros(max(size, 2 * len(values)), dtype=values.dtype)
    grown[: len(values)] = values
    return grown


def _statistics(m: Measures, i: int) -> Disproportionality:
    def value(array: np.ndarray) -> float | None:
        return None if np.isnan(array[i]) else round(float(array[i]), 6)

    return Disproportionality(
        a=int(m.a[i]), b=int(m.b[i]), c=int(m.c[i]), d=int(m.d[i]),
        prr=value(m.prr), chi2=value(m.chi2), ror=value(m.ror),
        ror_lower=value(m.ror_lower), ror_upper=value(m.ror_upper),
        ic=value(m.ic), ic025=value(m.ic025),
    )  # fmt: skip


def decoded_case(value: bytes) -> AdeCase | None:
    """A record of the cases topic, or None for one that is not a case (it is not counted)."""
    try:
        return decode_message(value, AdeCase)
    except NoteRejected:
        return None


@dataclass
class SignalCounter:
    """The worker's table, kept in step with the cases topic's offsets."""

    kafka: KafkaSettings
    settings: SignalSettings
    table: SignalTable = field(init=False)

    def __post_init__(self) -> None:
        self.table = SignalTable(self.settings)

    async def apply(self, records: Iterable[tuple[int, AdeCase | None]]) -> list[SignalChange]:
        """Cases at their offsets into the table (rebuilt first if the first offset is not the
        one expected); the pairs whose status changed."""
        records = list(records)
        if not records:
            return []
        if records[0][0] != self.table.next_offset:
            await self.rebuild(records[0][0])
        for offset, case in records:
            if case is not None:
                self.table.add(case)
            self.table.next_offset = offset + 1
        changes = self.table.changes(records[-1][0])
        self._gauge()
        return changes

    async def rebuild(self, until: int) -> None:
        """The table as of offset `until`, from the topic's start; statuses set, none sent."""
        started = time.monotonic()
        self.table = SignalTable(self.settings)
        async for record in read_partition(self.kafka, self.kafka.ade_cases_topic, until):
            if (case := decoded_case(record.value)) is not None:
                self.table.add(case)
        self.table.next_offset = until
        self.table.changes(until - 1)
        seconds = time.monotonic() - started
        log.info("signal table rebuilt to offset %d: %d cases, %d signals, in %.1f s",
                 until, self.table.cases, self.table.signals, seconds)  # fmt: skip
        metrics.SIGNAL_REBUILDS.inc()
        self._gauge()

    def _gauge(self) -> None:
        metrics.SIGNAL_CASES.set(self.table.cases)
        metrics.SIGNALS_ACTIVE.set(self.table.signals)


async def current_table(kafka: KafkaSettings, settings: SignalSettings) -> SignalTable:
    """The table of every case on the topic now (what `clinstream signals` prints)."""
    table = SignalTable(settings)
    async for record in read_partition(kafka, kafka.ade_cases_topic):
        if (case := decoded_case(record.value)) is not None:
            table.add(case)
    return table
