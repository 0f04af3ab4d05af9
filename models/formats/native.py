"""clinstream's own JSON notes (`ClinicalNote`), and the strict JSON loading FHIR shares."""

import json
from typing import Any

from pydantic import ValidationError

from models.messages import ClinicalNote, DeadLetterReason, NoteRejected, encodable, problems


def load_json(payload: bytes) -> Any:
    """Bytes -> a JSON value, or NoteRejected (invalid_json) naming where, never what.

    The text must be strict UTF-8 (or UTF-16/32, told by JSON's own rules); nesting too deep
    for the parser is a rejection, not a crash.
    """
    try:
        return json.loads(payload.decode(json.detect_encoding(payload)))
    except UnicodeDecodeError as error:
        raise NoteRejected(
            DeadLetterReason.INVALID_JSON,
            f"not UTF-8/16/32 text: {error.reason} at byte {error.start}",
        ) from None
    except json.JSONDecodeError as error:
        raise NoteRejected(
            DeadLetterReason.INVALID_JSON,
            f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
        ) from None
    except RecursionError:
        raise NoteRejected(
            DeadLetterReason.INVALID_JSON, "JSON nested deeper than the parser allows"
        ) from None


def decode(payload: bytes) -> ClinicalNote:
    raw = load_json(payload)
    note_id = raw.get("note_id") if isinstance(raw, dict) else None
    # Kept on the dead letter (as its key) only when it would be a valid note_id itself.
    if not (isinstance(note_id, str) and 0 < len(note_id) <= 256 and encodable(note_id)):
        note_id = None
    try:
        return ClinicalNote.model_validate(raw)
    except ValidationError as error:
        raise NoteRejected(
            DeadLetterReason.INVALID_SCHEMA, f"not a ClinicalNote: {problems(error)}", note_id
        ) from None


def split(data: bytes) -> list[bytes]:
    """A file of notes: JSON Lines, one note a line."""
    return [line for line in data.splitlines() if line.strip()]
