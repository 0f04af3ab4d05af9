"""FHIR R4 resources in JSON, validated with fhir.resources (its R4B models, which read R4
DocumentReference, DiagnosticReport and Bundle unchanged).

Read: a DocumentReference (text from `content[].attachment`), a DiagnosticReport (from
`presentedForm[]` and `conclusion`), or a Bundle of any type (a document, `$everything`, a
searchset, a bulk export): each DocumentReference or DiagnosticReport in it is a note of its
own, its Patient and Encounter entries resolve `urn:uuid:` references (and a fullUrl names a
document with no id). Attachments count when they carry `data` of type text/plain, text/html,
XHTML or RTF (converted to text); an attachment by `url` alone is not fetched, nor is a PDF
read.
"""

import json
import re
from datetime import datetime
from email.message import Message
from html.parser import HTMLParser

from fhir.resources.R4B.attachment import Attachment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError
from striprtf.striprtf import rtf_to_text

from models.formats.native import load_json
from models.messages import ClinicalNote, DeadLetterReason, NoteRejected, problems

RESOURCES = {
    "DocumentReference": DocumentReference,
    "DiagnosticReport": DiagnosticReport,
    "Bundle": Bundle,
}
DOCUMENTS = (DocumentReference, DiagnosticReport)
SOURCE_PREFIX = "fhir/"  # a note's `source` is this and the resource type it was read from
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")
_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table"}
_TOKEN = re.compile(r"[\w.+-]{1,40}(/[\w.+-]{1,80})?")  # a MIME type or charset, safe to name


# The identifier system of a URI (RFC 3986), for a document known only by its Bundle fullUrl.
_URI_SYSTEM = "urn:ietf:rfc:3986"


def _named(value: str | None) -> str:
    """A value from the message that an error may repeat only when it is a plain token."""
    return value if value and _TOKEN.fullmatch(value) else "?"


def _rejected(error: str, reason: DeadLetterReason = DeadLetterReason.INVALID_FHIR) -> NoteRejected:
    return NoteRejected(reason, error)


class _HtmlText(HTMLParser):
    """The text of an HTML document, with a line break where a block ends."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, _attrs) -> None:
        if tag in ("script", "style"):
            self.skipping += 1
        elif tag in _BLOCKS and self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


_TEXT_TYPES = {
    "text/plain": lambda text: text,
    "text/html": html_to_text,
    # US Core's own DiagnosticReport examples present their report as XHTML.
    "application/xhtml+xml": html_to_text,
    "application/xhtml": html_to_text,
    "text/rtf": lambda text: rtf_to_text(text).strip(),
    "application/rtf": lambda text: rtf_to_text(text).strip(),
}


def _attachment_text(attachment: Attachment) -> str | None:
    """The attachment's text, or None when it holds no data of a text type we read."""
    header = Message()
    header["content-type"] = attachment.contentType or "text/plain"
    mime = header.get_content_type()
    if attachment.data is None or mime not in _TEXT_TYPES:
        return None
    charset = header.get_content_charset() or "utf-8"
    try:
        text = attachment.data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        raise _rejected(f"attachment data is not text in charset {_named(charset)}") from None
    return _TEXT_TYPES[mime](text)


def _document_text(document: DocumentReference | DiagnosticReport) -> str:
    """The text of a document's attachments, and of a report's conclusion, a blank line apart."""
    if isinstance(document, DocumentReference):
        attachments = [content.attachment for content in document.content]
        conclusion = None
    else:
        attachments = list(document.presentedForm or [])
        conclusion = document.conclusion
    texts = [text for a in attachments if (text := _attachment_text(a)) is not None]
    if conclusion and conclusion.strip():
        texts.append(conclusion)
    if not texts:
        kinds = sorted({_named(a.contentType) if a.contentType else "no contentType"
                        for a in attachments if a.data})  # fmt: skip
        by_url = any(a.data is None and a.url for a in attachments)
        raise _rejected(
            f"{document.get_resource_type()} has no attachment with text/plain, text/html or "
            "text/rtf data"
            + (" and no conclusion" if isinstance(document, DiagnosticReport) else "")
            + (f" (found {', '.join(kinds)})" if kinds else "")
            + ("; attachments by url are not fetched" if by_url else ""),
            DeadLetterReason.UNSUPPORTED_MESSAGE,
        )
    return "\n\n".join(texts)


def _referenced_id(reference: Reference | None, resolved: dict[str, str]) -> str | None:
    """ "Patient/123" -> "123"; a urn:uuid: of a Bundle entry -> that entry's id; an
    identifier-only reference -> the identifier's value."""
    if reference is None:
        return None
    if reference.reference:
        target = reference.reference
        return resolved.get(target) or target.rsplit("/", 1)[-1]
    if reference.identifier is not None and reference.identifier.value:
        return reference.identifier.value
    return None


def _identifier_system(reference: Reference | None) -> str | None:
    """The system of an identifier-only reference ({"identifier": {"system": "urn:mrn", ...}}):
    its value is no resource id, so a finding must not write it as "Patient/<value>"."""
    if reference is None or reference.reference or reference.identifier is None:
        return None
    return reference.identifier.system


def _note(
    document: DocumentReference | DiagnosticReport,
    resolved: dict[str, str],
    full_url: str | None = None,
) -> ClinicalNote:
    kind = document.get_resource_type()
    if isinstance(document, DocumentReference):
        identifiers = [document.masterIdentifier, *(document.identifier or [])]
        encounters = document.context.encounter if document.context else None
        encounter = encounters[0] if encounters else None
        authored: datetime | None = document.date
        concept = document.type
    else:
        identifiers = list(document.identifier or [])
        encounter = document.encounter
        authored = document.effectiveDateTime or document.issued
        concept = document.code
    identifier = next((i for i in identifiers if i and i.value), None)
    note_id = document.id or (identifier and identifier.value) or full_url
    if not note_id:
        raise _rejected(f"{kind} has no id, masterIdentifier, identifier or Bundle fullUrl")
    # Named by identifier, not by a resource id a server resolves: keep how, for FHIR out.
    note_id_system = None
    if not document.id:
        note_id_system = (identifier.system or "") if identifier else _URI_SYSTEM
    coding = (concept.coding or [None])[0] if concept else None
    note_type = (concept.text if concept else None) or (coding and (coding.display or coding.code))
    try:
        return ClinicalNote(
            note_id=note_id,
            text=_document_text(document),
            note_type=note_type or "unknown",
            source=f"{SOURCE_PREFIX}{kind}",
            patient_id=_referenced_id(document.subject, resolved),
            patient_id_system=_identifier_system(document.subject),
            note_id_system=note_id_system,
            encounter_id=_referenced_id(encounter, resolved),
            authored_at=authored,
        )
    except ValidationError as error:
        raise _rejected(f"{kind} does not make a note: {problems(error)}") from None


def source_type(note: ClinicalNote) -> str | None:
    """DocumentReference or DiagnosticReport for a note read from FHIR, else None."""
    if not note.source.startswith(SOURCE_PREFIX):
        return None
    return note.source.removeprefix(SOURCE_PREFIX)


def source_resource(note: ClinicalNote) -> str | None:
    """ "DocumentReference/<id>" (or DiagnosticReport) for a note read from FHIR by its
    resource id, else None (a note named by an identifier is referred to by that)."""
    kind = source_type(note)
    if kind is None or note.note_id_system is not None:
        return None
    return f"{kind}/{note.note_id}"


def decode(payload: bytes) -> list[ClinicalNote | NoteRejected]:
    """One note per document: a resource, or each document of a Bundle (a document that does
    not make a note is rejected on its own, the others are read)."""
    raw = load_json(payload)
    kind = raw.get("resourceType") if isinstance(raw, dict) else None
    if kind not in RESOURCES:
        named = kind if isinstance(kind, str) and _TYPE_NAME.fullmatch(kind) else "missing"
        raise _rejected(
            f"resourceType is {named}: clinstream reads DocumentReference, DiagnosticReport "
            "and a Bundle of one of them",
            DeadLetterReason.UNSUPPORTED_MESSAGE
            if named != "missing"
            else DeadLetterReason.INVALID_FHIR,
        )
    try:
        resource = RESOURCES[kind].model_validate(raw)
    except ValidationError as error:
        raise _rejected(f"not a valid FHIR R4 {kind}: {problems(error)}") from None
    if not isinstance(resource, Bundle):
        return [_note(resource, {})]
    entries = resource.entry or []
    documents = [entry for entry in entries if isinstance(entry.resource, DOCUMENTS)]
    if not documents:
        raise _rejected(
            "Bundle holds no DocumentReference or DiagnosticReport",
            DeadLetterReason.UNSUPPORTED_MESSAGE,
        )
    resolved = {
        entry.fullUrl: entry.resource.id
        for entry in entries
        if entry.fullUrl and entry.resource is not None and entry.resource.id
    }
    outcomes: list[ClinicalNote | NoteRejected] = []
    for number, entry in enumerate(documents, 1):
        try:
            outcomes.append(_note(entry.resource, resolved, entry.fullUrl))
        except NoteRejected as rejection:
            where = f"document {number} of {len(documents)}: " if len(documents) > 1 else ""
            outcomes.append(
                NoteRejected(rejection.reason, where + rejection.error, entry.resource.id)
            )
    return outcomes


def split(data: bytes) -> list[bytes]:
    """A file of resources: one JSON resource, or NDJSON (FHIR bulk data), one a line."""
    try:
        json.loads(data)
    except ValueError:
        return [line for line in data.splitlines() if line.strip()]
    return [data]
