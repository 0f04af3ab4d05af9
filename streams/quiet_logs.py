"""One log line per state change, not one per retry.

While the broker is down, aiokafka retries every few milliseconds and logs each retry: 1,429
lines in a 20 s outage, drowning what matters. A warning passes once per `window_s` for each
(logger, message template); the next one to pass says how many like it were held back.
"""

import logging
import time


class RepeatFilter(logging.Filter):
    def __init__(self, window_s: float = 60.0) -> None:
        super().__init__()
        self.window_s = window_s
        self.seen: dict[tuple[str, str], tuple[float, int]] = {}  # key -> (passed at, held)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        passed_at, held = self.seen.get(key, (-self.window_s, 0))
        if now - passed_at < self.window_s:
            self.seen[key] = (passed_at, held + 1)
            return False
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {self.window_s:.0f}s]"
        self.seen[key] = (now, 0)
        return True


def quiet_repeats(prefixes: tuple[str, ...] = ("aiokafka", "faust"), window_s: float = 60.0):
    """Put one RepeatFilter on every logger under these prefixes (filters do not inherit)."""
    repeat_filter = RepeatFilter(window_s)
    names = [name for name in logging.root.manager.loggerDict if name.startswith(prefixes)]
    for name in names:
        logging.getLogger(name).addFilter(repeat_filter)
    return repeat_filter
