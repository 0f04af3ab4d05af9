"""Messages in the formats hospitals publish -> ClinicalNote, one module per format.

Each format module has `decode(payload)`, raising NoteRejected with a reason and an error that
names fields, never note text, and `split(file bytes) -> messages` for the batch commands. A
message may hold several documents (a FHIR Bundle, an ORU of several orders): each becomes
its own note or its own rejection. Adding a format is a module and a row in FORMATS; the
stream, `clinstream extract --format` and the tests all decode through `parse_notes`.
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
    # Every document of the message, each a note or its own rejection; a message that is not
    # one of this format at all raises NoteRejected.
    decode: Callable[[bytes], list[ClinicalNote | NoteRejected]]
    split: Callable[[bytes], list[bytes]]
    invalid: DeadLetterReason  # the reason for an error the decoder did not foresee


def _one(decode: Callable[[bytes], ClinicalNote]) -> Callable[[bytes], list[ClinicalNote]]:
    """A format whose messages hold one document each."""
    return lambda payload: [decode(payload)]


FORMATS: dict[NoteFormat, Format] = {
    NoteFormat.JSON: Format(_one(native.decode), native.split, DeadLetterReason.INVALID_SCHEMA),
    NoteFormat.HL7V2: Format(hl7v2.decode, hl7v2.split, DeadLetterReason.INVALID_HL7V2),
    NoteFormat.FHIR: Format(fhir.decode, fhir.split, DeadLetterReason.INVALID_FHIR),
}


Outcome = ClinicalNote | NoteRejected


def parse_notes(
    payload: bytes | None,
    max_bytes: int,
    max_chars: int,
    note_format: NoteFormat = NoteFormat.JSON,
) -> list[Outcome]:
    """bytes -> one outcome per document the message holds: a note, or a NoteRejected with a
    reason and an error free of note text. A FHIR Bundle of several documents (an EHR export,
    `$everything`, a searchset) gives one each; any other message gives one.

    Never raises, whatever the bytes: the size is checked before any parsing, and an error
    inside a format's library is a rejection, not a crash.
    """
    if payload is None:
        return [NoteRejected(DeadLetterReason.INVALID_JSON, "message has no value (a tombstone)")]
    if len(payload) > max_bytes:
        return [
            NoteRejected(
                DeadLetterReason.MESSAGE_TOO_LARGE,
                f"message has {len(payload)} bytes, over the limit of {max_bytes} "
                "(CLINSTREAM_WORKER_MAX_MESSAGE_BYTES)",
            )
        ]
    chosen = FORMATS[note_format]
    try:
        outcomes = chosen.decode(payload)
    except NoteRejected as rejection:
        return [rejection]
    except RecursionError:
        return [NoteRejected(chosen.invalid, "message nested deeper than the parser allows")]
    except Exception as error:  # noqa: BLE001 (a library's surprise is this message's problem)
        return [
            NoteRejected(
                chosen.invalid,
                f"not a readable {note_format.value} message ({type(error).__name__})",
            )
        ]
    return [_checked(outcome, max_chars) for outcome in outcomes]


def parse_note(
    payload: bytes | None,
    max_bytes: int,
    max_chars: int,
    note_format: NoteFormat = NoteFormat.JSON,
) -> ClinicalNote:
    """A message that holds one document -> its note; raises NoteRejected otherwise."""
    outcomes = parse_notes(payload, max_bytes, max_chars, note_format)
    if len(outcomes) != 1:
        raise NoteRejected(
            DeadLetterReason.UNSUPPORTED_MESSAGE, f"message holds {len(outcomes)} documents"
        )
    if isinstance(outcomes[0], NoteRejected):
        raise outcomes[0]
    return outcomes[0]


def _checked(outcome: Outcome, max_chars: int) -> Outcome:
    if isinstance(outcome, NoteRejected):
        return outcome
    note = outcome
    if not note.text.strip():
        return NoteRejected(DeadLetterReason.EMPTY_TEXT, "note text is empty", note.note_id)
    if len(note.text) > max_chars:
        return NoteRejected(
            DeadLetterReason.NOTE_TOO_LONG,
            f"note has {len(note.text)} characters, over the limit of {max_chars} "
            "(CLINSTREAM_WORKER_MAX_NOTE_CHARS)",
            note.note_id,
        )
    return note
