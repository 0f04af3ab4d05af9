"""Which notes go to the teacher: a deterministic slice by note_id, plus the notes the student
was unsure of, under a per-minute cap that bounds the teacher's cost."""

import hashlib
import time
from collections.abc import Callable

from models.messages import SampleReason
from models.spans import Annotations


def in_slice(note_id: str, rate: float) -> bool:
    """The same note is in or out on every worker and every replay."""
    digest = hashlib.sha256(note_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


class Sampler:
    def __init__(
        self,
        rate: float,
        uncertainty_threshold: float,
        max_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.uncertainty_threshold = uncertainty_threshold
        self.max_per_minute = max_per_minute
        self.clock = clock
        self._minute_started = clock()
        self._taken = 0

    def choose(self, note_id: str, student: Annotations) -> SampleReason | None:
        """Why this note goes to the teacher, or None when it does not."""
        if in_slice(note_id, self.rate):
            reason = SampleReason.RANDOM
        elif any(e.confidence < self.uncertainty_threshold for e in student.entities):
            reason = SampleReason.UNCERTAIN
        else:
            return None
        now = self.clock()
        if now - self._minute_started >= 60:
            self._minute_started, self._taken = now, 0
        if self._taken >= self.max_per_minute:
            return None
        self._taken += 1
        return reason
