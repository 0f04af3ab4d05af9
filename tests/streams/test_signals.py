"""Cases from ADE events, the signal table's counts, changes and window, and the planted
stream (in process; the stream itself is in tests/streams/test_signal_stream.py)."""

from datetime import timedelta

from models.codes import DRUGBANK, HPO
from models.spans import Code
from streams.ops.signals_bench import START, ade_event, planted_result
from streams.settings import SignalSettings
from streams.signals import SignalTable, case_of


def test_a_case_is_one_patient_drug_and_event_however_often_reported():
    first = case_of(ade_event(1, "p1", "Aspirin", "GI  bleeding", START))
    again = case_of(ade_event(2, "p1", "aspirin", "GI bleeding", START + timedelta(days=3)))
    other_patient = case_of(ade_event(3, "p2", "aspirin", "GI bleeding", START))
    assert first.case_id == again.case_id != other_patient.case_id
    assert first.drug.key == "text|aspirin" and first.event.key == "text|gi bleeding"
    # Without a patient, the note is the case.
    assert (
        case_of(ade_event(4, None, "aspirin", "rash", START)).case_id
        != case_of(ade_event(5, None, "aspirin", "rash", START)).case_id
    )


def test_concepts_are_keyed_by_a_trusted_code_before_text():
    event = ade_event(1, "p1", "ASA", "hives", START)
    event.drug.codes = [Code(system=DRUGBANK, code="DB00945", display="Aspirin")]
    event.effect.codes = [Code(system=HPO, code="HP:0001025", display="Urticaria")]
    case = case_of(event)
    assert case.drug.key == f"{DRUGBANK}|DB00945" and case.drug.display == "Aspirin"
    assert case.event.key == f"{HPO}|HP:0001025"


def test_only_asserted_actual_events_are_cases():
    for flags in ({"negated": True}, {"possible": True}, {"hypothetical": True},
                  {"family": True}):  # fmt: skip
        assert case_of(ade_event(1, "p1", "aspirin", "rash", START, **flags)) is None
    potential = ade_event(1, "p1", "aspirin", "rash", START).model_copy(
        update={"actuality": "potential"}
    )
    assert case_of(potential) is None
    assert case_of(ade_event(1, "p1", "aspirin", "rash", START, historical=True)) is not None


def table_of(events, settings=None) -> SignalTable:
    table = SignalTable(settings or SignalSettings())
    for event in events:
        table.add(case_of(event))
    return table


def background(n: int, when=START):
    """n cases spread over 10 other drugs and 10 other events."""
    return [ade_event(1000 + i, f"bg{i}", f"other{i % 10}", f"effect{i // 10 % 10}", when)
            for i in range(n)]  # fmt: skip


def test_duplicates_count_once_and_a_change_is_reported_once():
    table = table_of(background(200))
    assert table.changes(0) == []
    signal = [ade_event(i, f"p{i}", "drugx", "eventx", START) for i in range(4)]
    for event in signal + signal:  # every event twice: a replay
        table.add(case_of(event))
    assert table.cases == 204
    (change,) = table.changes(1)
    assert change.signal and change.statistics.a == 4 and change.statistics.b == 0
    assert change.criteria_met == ["evans", "ror", "ic"]
    assert table.changes(2) == []  # no change, no message
    # Drug x now reported with many other events: the pair stops being a signal.
    for i in range(400):
        table.add(case_of(ade_event(5000 + i, f"q{i}", "drugx", f"effect{i % 10}", START)))
    (stopped,) = [c for c in table.changes(3) if c.event.display == "eventx"]
    assert not stopped.signal


def test_a_window_counts_only_recent_cases():
    settings = SignalSettings(window_days=30)
    old = [ade_event(i, f"p{i}", "drugx", "eventx", START) for i in range(4)]
    table = table_of(old + background(200, START), settings)
    assert [c.signal for c in table.changes(0) if c.event.display == "eventx"] == [True]
    table.add(case_of(ade_event(9999, "late", "other1", "effect1", START + timedelta(days=40))))
    assert table.cases == 1 and table.basis == "cases of the last 30 days"
    assert [c.signal for c in table.changes(1) if c.event.display == "eventx"] == [False]


def test_every_planted_pair_is_flagged_in_20000_cases():
    result = planted_result(SignalSettings())
    print(f"\n{result}")
    assert result.planted_flagged == result.planted == 5
    assert result.unplanted_flagged < 0.01 * result.pairs
