"""One backoff policy for everything that waits and tries again (Triton requests and outages,
teacher calls, the LLM API): a first delay, then twice the last, never above a cap."""

import math
from collections.abc import Iterator


def delays(first_s: float, cap_s: float = math.inf) -> Iterator[float]:
    """first_s, 2·first_s, 4·first_s, … each at most cap_s."""
    delay = min(first_s, cap_s)
    while True:
        yield delay
        delay = min(delay * 2, cap_s)
