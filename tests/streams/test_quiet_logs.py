import logging

from streams.quiet_logs import RepeatFilter


def test_a_repeated_warning_passes_once_per_window_then_counts_what_was_held(monkeypatch):
    clock = iter([0.0, 1.0, 2.0, 61.0, 61.5])
    monkeypatch.setattr("streams.quiet_logs.time.monotonic", lambda: next(clock))
    repeat = RepeatFilter(window_s=60)

    def record(msg: str, level: int = logging.WARNING) -> logging.LogRecord:
        return logging.LogRecord("aiokafka.conn", level, "", 0, msg, ("x",), None)

    passed = [repeat.filter(r) for r in (record("down %s"), record("down %s"), record("down %s"))]
    assert passed == [True, False, False]
    later = record("down %s")
    assert repeat.filter(later) and "2 more like this" in later.getMessage()
    assert repeat.filter(record("other %s"))
    assert repeat.filter(record("down %s", logging.INFO))  # info lines are not held
