"""HL7 v2 messages in ER7 (pipe-delimited) encoding, read with python-hl7.

Read: MDM events that carry a document (T02 original, T04 status change, T06 addendum, T08
edit, T10 replacement) and ORU^R01 results: an MDM is one document, an ORU one per order (OBR)
that carries narrative. The text is OBX-5 of every OBX whose value type (OBX-2) is TX or FT, or
ST where it reads as prose, and NTE-3 comments, in order: repetitions and segments joined by
line breaks, escape sequences decoded (`\\.br\\` a line break, `\\F\\` a `|`). MLLP framing, a
UTF-8 byte-order mark and `\\n` or `\\r\\n` segment ends are tolerated; the character set is
the one MSH-18 names (`CHARSETS`), else UTF-8. A line that is not a segment (a field wrapped onto
a new line when a message was pasted from a PDF, a page footer) rejects the message, naming the
line: read on, its text would silently go missing. Errors name the segment and field, never a
value.
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
# An ST value counts as narrative when it reads as prose: four words or more.
_PROSE = re.compile(r"(?:[^\W\d_]{2,}[^\w]+){3,}[^\W\d_]{2,}")
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
        if value := _value(message, path):
            return _parsed_time(value, _field_name(path))
    return None


def _parsed_time(value: str, field: str) -> datetime:
    if not _TIMESTAMP.fullmatch(value):
        raise _rejected(f"{field} is not an HL7 timestamp")
    try:
        return hl7.parse_datetime(value)
    except ValueError:
        raise _rejected(f"{field} is not an HL7 timestamp") from None


def _field_name(path: str) -> str:
    """ "TXA.F4" -> "TXA-4": how HL7 people name a field."""
    segment, field = path.split(".")[:2]
    return f"{segment}-{field.removeprefix('F')}"


def _narrative(message: hl7.Message, segments: list) -> tuple[list[str], set[str]]:
    """Lines of narrative in these segments: OBX-5 of TX and FT values, of ST values that read
    as prose (a case notification's ST values are ids, phone numbers, addresses), and NTE-3
    comments, where some labs put their narrative; and the other OBX-2 types seen."""
    repetition = message.separators[2] if len(message.separators) > 2 else "~"
    lines: list[str] = []
    other_types: set[str] = set()
    for segment in segments:
        name = str(segment[0])
        if name == "NTE":
            raw = str(segment[3]) if len(segment) > 3 else ""
        elif name == "OBX":
            value_type = str(segment[2]).strip() if len(segment) > 2 else ""
            raw = str(segment[5]) if len(segment) > 5 else ""
            if value_type not in TEXT_TYPES or (
                value_type == "ST" and not _PROSE.search(message.unescape(raw))
            ):
                other_types.add(value_type if _FIELD_NAME.fullmatch(value_type) else "?")
                continue
        else:
            continue
        lines += [message.unescape(part).replace("\r", "\n") for part in raw.split(repetition)]
    return [line for line in lines if line.strip()], other_types


def _no_narrative(other_types: set[str]) -> NoteRejected:
    found = f"; found OBX-2 {', '.join(sorted(other_types))}" if other_types else ""
    return _rejected(
        f"no narrative: no OBX of value type {'/'.join(TEXT_TYPES)} (ST only as prose) and no "
        f"NTE comment{found}",
        DeadLetterReason.UNSUPPORTED_MESSAGE,
    )


def _orders(message: hl7.Message) -> list[tuple[hl7.Segment | None, list]]:
    """An ORU's segments grouped by OBR: each order with the OBX and NTE segments after it."""
    groups: list[tuple[hl7.Segment | None, list]] = [(None, [])]
    for segment in message:
        if str(segment[0]) == "OBR":
            groups.append((segment, []))
        else:
            groups[-1][1].append(segment)
    return [group for group in groups if group[0] is not None or group[1]]


def _has(message: hl7.Message, segment: str) -> bool:
    return any(str(s[0]) == segment for s in message)


def decode(payload: bytes) -> list[ClinicalNote | NoteRejected]:
    """An MDM's document, or each order (OBR) of an ORU that carries narrative, as a note."""
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
    common = {
        "source": "/".join(
            part
            for part in (_value(message, "MSH.F3.R1.C1"), _value(message, "MSH.F4.R1.C1"))
            if part
        )
        or "unknown",
        "patient_id": _value(message, "PID.F3.R1.C1") or None,
        "encounter_id": _value(message, "PV1.F19.R1.C1") or None,
    }
    if event[0] == "MDM":
        if not _has(message, "TXA"):
            raise _rejected(f"{'^'.join(event)} has no TXA segment")
        lines, other_types = _narrative(message, list(message))
        if not lines:
            raise _no_narrative(other_types)
        return [
            _note(
                note_id=_value(message, "TXA.F12.R1.C1") or control_id,
                text="\n".join(lines),
                note_type=_value(message, "TXA.F2.R1.C1") or "unknown",
                authored_at=_timestamp(message, "TXA.F4", "MSH.F7"),
                **common,
            )
        ]
    notes, seen_types = [], set()
    orders = _orders(message)
    for number, (order, segments) in enumerate(orders, 1):
        lines, other_types = _narrative(message, segments)
        seen_types |= other_types
        if not lines:
            continue  # a numeric result, not a document
        placer, filler, service, observed = (
            _components(message, order, field) for field in (2, 3, 4, 7)
        )
        notes.append(
            _note(
                note_id=(filler[0] or placer[0]
                         or (control_id if len(orders) == 1 else f"{control_id}-{number}")),
                text="\n".join(lines),
                note_type=service[1] or service[0] or "unknown",
                authored_at=(_parsed_time(observed[0], "OBR-7") if observed[0]
                             else _timestamp(message, "MSH.F7")),
                **common,
            )
        )  # fmt: skip
    if not notes:
        raise _no_narrative(seen_types)
    return notes


def _components(message: hl7.Message, segment: hl7.Segment | None, field: int) -> list[str]:
    """A field's first repetition as its components, at least two; empty where absent."""
    raw = str(segment[field]).strip() if segment is not None and len(segment) > field else ""
    # python-hl7's separators: segment, field, repetition, component, subcomponent.
    first = raw.split(message.separators[2])[0]
    return [*first.split(message.separators[3]), ""]


def _note(**fields) -> ClinicalNote:
    try:
        return ClinicalNote(**fields)
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
