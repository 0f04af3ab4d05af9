"""Messages in the formats hospitals publish -> ClinicalNote, one module per format.

Each format module has `decode(payload) -> ClinicalNote`, raising NoteRejected with a reason
and an error that names fields, never note text, and `split(file bytes) -> messages` for the
batch commands. Adding a format is a module and a row in FORMATS; the stream, `clinstream
extract --format` and the tests all decode through `parse_note`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from models.formats import fhir, hl7v2, native
from models.messages import ClinicalNote, DeadLetterReason, NoteRejected


class NoteFormat(StrEnum):
    JSON = "json"  # clinstream's ClinicalNote
    HL7V2 = "hl7v2"
    FHIR = "fhir"


@dataclass(frozen=True)
class Format:
    decode: Callable[[bytes], ClinicalNote]
    split: Callable[[bytes], list[bytes]]
    invalid: DeadLetterReason  # the reason for an error the decoder did not foresee


FORMATS: dict[NoteFormat, Format] = {
    NoteFormat.JSON: Format(native.decode, native.split, DeadLetterReason.INVALID_SCHEMA),
    NoteFormat.HL7V2: Format(hl7v2.decode, hl7v2.split, DeadLetterReason.INVALID_HL7V2),
    NoteFormat.FHIR: Format(fhir.decode, fhir.split, DeadLetterReason.INVALID_FHIR),
}


def parse_note(
    payload: bytes | None,
    max_bytes: int,
    max_chars: int,
    note_format: NoteFormat = NoteFormat.JSON,
) -> ClinicalNote:
    """bytes -> ClinicalNote, or NoteRejected with a reason and a message free of note text.

    Never raises anything else, whatever the bytes: the size is checked before any parsing,
    and an error inside a format's library is a rejection, not a crash.
    """
    if payload is None:
        raise NoteRejected(DeadLetterReason.INVALID_JSON, "message has no value (a tombstone)")
    if len(payload) > max_bytes:
        raise NoteRejected(
            DeadLetterReason.MESSAGE_TOO_LARGE,
            f"message has {len(payload)} bytes, over the limit of {max_bytes} "
            "(CLINSTREAM_WORKER_MAX_MESSAGE_BYTES)",
        )
    chosen = FORMATS[note_format]
    try:
        note = chosen.decode(payload)
    except NoteRejected:
        raise
    except RecursionError:
        raise NoteRejected(chosen.invalid, "message nested deeper than the parser allows") from None
    except Exception as error:  # noqa: BLE001 (a library's surprise is this message's problem)
        raise NoteRejected(
            chosen.invalid, f"not a readable {note_format.value} message ({type(error).__name__})"
        ) from None
    if not note.text.strip():
        raise NoteRejected(DeadLetterReason.EMPTY_TEXT, "note text is empty", note.note_id)
    if len(note.text) > max_chars:
        raise NoteRejected(
            DeadLetterReason.NOTE_TOO_LONG,
            f"note has {len(note.text)} characters, over the limit of {max_chars} "
            "(CLINSTREAM_WORKER_MAX_NOTE_CHARS)",
            note.note_id,
        )
    return note
