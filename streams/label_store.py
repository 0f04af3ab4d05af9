"""The durable store of teacher-labelled samples, with their text, for retraining.

SQLite under the data dir: one row per note (a re-delivered label replaces its row), pruned to
the retention period on every write.
"""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streams.schemas import TeacherLabel


class LabelStore:
    def __init__(self, path: Path, retention_days: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.retention = timedelta(days=retention_days)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS labels ("
                " note_id TEXT PRIMARY KEY, labelled_at TEXT NOT NULL, label TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def add(self, label: TeacherLabel) -> None:
        cutoff = (datetime.now(UTC) - self.retention).isoformat()
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO labels VALUES (?, ?, ?)",
                (label.note_id, label.labelled_at.isoformat(), label.model_dump_json()),
            )
            db.execute("DELETE FROM labels WHERE labelled_at < ?", (cutoff,))

    def all(self) -> list[TeacherLabel]:
        with self._connect() as db:
            rows = db.execute("SELECT label FROM labels ORDER BY note_id").fetchall()
        return [TeacherLabel.model_validate_json(row[0]) for row in rows]

    def count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
