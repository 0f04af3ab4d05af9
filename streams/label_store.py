"""The durable store of teacher-labelled samples, with their text, for retraining.

SQLite under the data dir, private to its user (0600): one row per note (a re-delivered label
replaces its row), with the patient id so a patient's rows can be purged on request. Rows
older than the retention period are deleted on every write and never read; deleted content
is overwritten in the file (`secure_delete`), not only unlinked from the index. The time and
patient columns are indexed, so a write costs the same at 180 days of samples as on the first
day (`clinstream bench label-store`).
"""

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from models.messages import TeacherLabel


class LabelStore:
    def __init__(self, path: Path, retention_days: int) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        self.retention = timedelta(days=retention_days)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS labels (note_id TEXT PRIMARY KEY,"
                " patient_id TEXT, labelled_at TEXT NOT NULL, label TEXT NOT NULL)"
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(labels)")}
            if "patient_id" not in columns:  # a store written before patient ids were kept
                db.execute("ALTER TABLE labels ADD COLUMN patient_id TEXT")
            db.execute("CREATE INDEX IF NOT EXISTS labels_by_time ON labels (labelled_at)")
            db.execute("CREATE INDEX IF NOT EXISTS labels_by_patient ON labels (patient_id)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA secure_delete = ON")
        return db

    def _cutoff(self) -> str:
        return (datetime.now(UTC) - self.retention).isoformat()

    def add(self, label: TeacherLabel) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO labels (note_id, patient_id, labelled_at, label)"
                " VALUES (?, ?, ?, ?)",
                (label.note_id, label.patient_id, label.labelled_at.isoformat(),
                 label.model_dump_json()),
            )  # fmt: skip
            db.execute("DELETE FROM labels WHERE labelled_at < ?", (self._cutoff(),))

    def labelled(self, note_id: str, student_model_version: str) -> bool:
        """Whether this note already has a label against this student version: a replayed
        teacher request for it need not call the teacher again."""
        with self._connect() as db:
            row = db.execute(
                "SELECT 1 FROM labels WHERE note_id = ? AND labelled_at >= ?"
                " AND json_extract(label, '$.student_model_version') = ?",
                (note_id, self._cutoff(), student_model_version),
            ).fetchone()
        return row is not None

    def all(self) -> list[TeacherLabel]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT label FROM labels WHERE labelled_at >= ? ORDER BY note_id",
                (self._cutoff(),),
            ).fetchall()
        return [TeacherLabel.model_validate_json(row[0]) for row in rows]

    def purge(self, note_id: str | None = None, patient_id: str | None = None) -> int:
        """Delete a note's or a patient's rows (a data-subject request); returns how many."""
        if (note_id is None) == (patient_id is None):
            raise ValueError("purge takes a note id or a patient id, one of them")
        column, value = ("note_id", note_id) if note_id is not None else ("patient_id", patient_id)
        with self._connect() as db:
            return db.execute(f"DELETE FROM labels WHERE {column} = ?", (value,)).rowcount
