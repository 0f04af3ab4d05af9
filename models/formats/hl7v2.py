"""HL7 v2 messages in ER7 (pipe-delimited) encoding, read with python-hl7.

Read: MDM events that carry a document (T02 original, T04 status change, T06 addendum, T08
edit, T10 replacement) and ORU^R01 results. The text is OBX-5 of every OBX whose value type
(OBX-2) is TX, FT or ST, in order: repetitions and segments joined by line breaks, escape
sequences decoded (`\\.br\\` a line break, `\\F\\` a `|`). MLLP framing, a UTF-8 byte-order mark
and `\\n` or `\\r\\n` segment ends are tolerated; the character set is the one MSH-18 names
(`CHARSETS`), else UTF-8. A line that is not a segment (a field wrapped onto a new line when a
message was pasted from a PDF, a page footer) rejects the message, naming the line: read on,
its text would silently go missing. Errors name the segment and field, never a value.
"""

import re
from datetime import datetime

import hl7
from pydantic import ValidationError

from models.messages import ClinicalNote, DeadLetterReason, NoteRejected, problems

DOCUMENT_EVENTS = {
    ("MDM", "T02"), ("MDM", "T04"), ("MDM", "T06"), ("MDM", "T08"), ("MDM", "T10"),
    ("ORU", "R01"),
}  # fmt: skip
TEXT_TYPES = ("TX", "FT", "ST")
MLLP_START, MLLP_END = b"\x0b", b"\x1c"
BOM = b"\xef\xbb\xbf"
# MSH-18 (HL7 table 0211) -> Python codec.
CHARSETS = {
    "ASCII": "ascii",
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "BIG-5": "big5",
    **{f"8859/{n}": f"iso8859_{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)},
}
_SEGMENT = re.compile(r"[A-Z][A-Z0-9]{2}(\||$)")
_FIELD_NAME = re.compile(r"[A-Z][A-Z0-9]{1,3}")
# HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
_TIMESTAMP = re.compile(r"\d{4}(?:\d{2}){0,5}(?:\.\d{1,4})?(?:[+-]\d{4})?")


def _rejected(
    error: str, reason: DeadLetterReason = DeadLetterReason.INVALID_HL7V2
) -> NoteRejected:
    return NoteRejected(reason, error)


def _text(payload: bytes) -> str:
    """The message as text with `\\r` segment ends, in the character set MSH-18 names."""
    framed = payload.strip().removeprefix(MLLP_START).removesuffix(MLLP_END).strip()
    framed = framed.removeprefix(BOM)
    fields = framed.split(b"\r", 1)[0].split(b"\n", 1)[0].split(b"|")
    named = fields[17].split(b"^")[0].decode("ascii", "replace").strip() if len(fields) > 17 else ""
    codec = CHARSETS.get(named, "utf-8")
    try:
        text = framed.decode(codec)
    except UnicodeDecodeError as error:
        said = f"MSH-18 {named}" if named in CHARSETS else "UTF-8 (MSH-18 names no set we map)"
        raise _rejected(f"not {said}: {error.reason} at byte {error.start}") from None
    return text.replace("\r\n", "\r").replace("\n", "\r")


def _check_segments(text: str) -> None:
    """Every line a segment: `XYZ|...`. A wrapped field or a stray line is named by number."""
    for number, line in enumerate(text.split("\r"), 1):
        if line.strip() and not _SEGMENT.match(line):
            raise _rejected(
                f"line {number} is not a segment (a segment starts with a three-character id "
                "and the field separator): a field wrapped onto a new line, or text pasted in"
            )


def _value(message: hl7.Message, path: str) -> str:
    """A field or component by python-hl7 path ("PID.F3.R1.C1"); empty when absent."""
    try:
        return str(message[path]).strip()
    except (KeyError, IndexError):
        return ""


def _timestamp(message: hl7.Message, *paths: str) -> datetime | None:
    """The first of these fields that is set, as a datetime; a malformed one is an error."""
    for path in paths:
        value = _value(message, path)
        if value:
            if not _TIMESTAMP.fullmatch(value):
                raise _rejected(f"{_field_name(path)} is not an HL7 timestamp")
            try:
                return hl7.parse_datetime(value)
            except ValueError:
                raise _rejected(f"{_field_name(path)} is not an HL7 timestamp") from None
    return None


def _field_name(path: str) -> str:
    """ "TXA.F4" -> "TXA-4": how HL7 people name a field."""
    segment, field = path.split(".")[:2]
    return f"{segment}-{field.removeprefix('F')}"


def _observation_text(message: hl7.Message) -> str:
    repetition = message.separators[2] if len(message.separators) > 2 else "~"
    lines: list[str] = []
    other_types: set[str] = set()
    for obx in message.segments("OBX") if _has(message, "OBX") else []:
        value_type = str(obx[2]).strip() if len(obx) > 2 else ""
        if value_type not in TEXT_TYPES:
            other_types.add(value_type if _FIELD_NAME.fullmatch(value_type) else "?")
            continue
        raw = str(obx[5]) if len(obx) > 5 else ""
        lines += [message.unescape(part).replace("\r", "\n") for part in raw.split(repetition)]
    if not lines:
        found = f"; found OBX-2 {', '.join(sorted(other_types))}" if other_types else ""
        raise _rejected(
            f"no OBX segment with a text value (OBX-2 {'/'.join(TEXT_TYPES)}){found}",
            DeadLetterReason.UNSUPPORTED_MESSAGE,
        )
    return "\n".join(lines)


def _has(message: hl7.Message, segment: str) -> bool:
    return any(str(s[0]) == segment for s in message)


def decode(payload: bytes) -> ClinicalNote:
    text = _text(payload)
    if not text.startswith("MSH"):
        raise _rejected("not HL7 v2 ER7: the message does not start with an MSH segment")
    _check_segments(text)
    try:
        message = hl7.parse(text)
    except Exception as error:  # noqa: BLE001 (python-hl7 raises several kinds on bad input)
        raise _rejected(f"not HL7 v2 ER7 ({type(error).__name__})") from None
    event = (_value(message, "MSH.F9.R1.C1"), _value(message, "MSH.F9.R1.C2"))
    control_id = _value(message, "MSH.F10")
    if not control_id:
        raise _rejected("MSH-10 (message control id) is empty")
    if event not in DOCUMENT_EVENTS:
        named = "^".join(event) if all(_FIELD_NAME.fullmatch(part) for part in event) else "?"
        raise _rejected(
            f"MSH-9 is {named}: clinstream reads MDM^T02/T04/T06/T08/T10 and ORU^R01",
            DeadLetterReason.UNSUPPORTED_MESSAGE,
        )
    is_document = event[0] == "MDM"
    if is_document and not _has(message, "TXA"):
        raise _rejected(f"{'^'.join(event)} has no TXA segment")
    note_text = _observation_text(message)
    note_id = (
        _value(message, "TXA.F12.R1.C1") if is_document else _value(message, "OBR.F3.R1.C1")
    ) or control_id
    try:
        return ClinicalNote(
            note_id=note_id,
            text=note_text,
            note_type=(
                _value(message, "TXA.F2.R1.C1")
                if is_document
                else _value(message, "OBR.F4.R1.C2") or _value(message, "OBR.F4.R1.C1")
            )
            or "unknown",
            source="/".join(
                part
                for part in (_value(message, "MSH.F3.R1.C1"), _value(message, "MSH.F4.R1.C1"))
                if part
            )
            or "unknown",
            patient_id=_value(message, "PID.F3.R1.C1") or None,
            encounter_id=_value(message, "PV1.F19.R1.C1") or None,
            authored_at=_timestamp(
                message, *(("TXA.F4",) if is_document else ("OBR.F7",)), "MSH.F7"
            ),
        )
    except ValidationError as error:
        raise _rejected(f"fields do not make a note: {problems(error)}") from None


def split(data: bytes) -> list[bytes]:
    """A file of messages, MLLP-framed or not, one after another, cut before each MSH that
    starts a line. What comes before the first (a byte-order mark, garbage) stays with it, so
    the decoder reads or rejects it with a reason; nothing is dropped unseen."""
    text = data.replace(MLLP_START, b"\r").replace(MLLP_END, b"\r")
    text = text.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    cuts = [m.start() for m in re.finditer(rb"(?<=\r)MSH\|", text)]
    bounds = zip([0, *cuts], [*cuts, len(text)], strict=True)
    messages = [text[start:end].strip(b"\r") for start, end in bounds]
    return [message for message in messages if message.strip()]
