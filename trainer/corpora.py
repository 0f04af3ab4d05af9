"""Readers of the corpora clinstream learns from and is scored on, into one Document type.

Corpus types map onto ours explicitly (`*_TYPES` below); types with no counterpart are dropped:
- PHEE: Treatment.Drug -> DRUG; the Effect of an Adverse_event -> ADE, paired with the event's
  drugs. Effects of therapeutic events are not adverse and are not labelled.
- BC5CDR: Chemical -> DRUG (chemicals are broader than drugs), Disease -> DISEASE, each with
  its gold MeSH ids as codes.
- BRAT standoff: entity types by the mapping given (default: our own type names), and relations
  named Adverse_drug_event/ADE/CID between a drug and an effect.
- ADE Corpus V2 with recorded LLM answers (`ade_llm`): gold DRUG and ADE with their pairs where
  the file has gold (dev), else text only; the recorded answers are a teacher
  (`trainer/teachers/recorded.py`).
- JSON Lines notes, MTSamples and PhysioNet deid: text only (PHI spans of deid are not ours).
- Files of HL7 v2 messages or FHIR resources (NDJSON): text only, each message decoded exactly
  as the stream decodes it (`models.formats`); a message the stream would dead-letter is
  logged with its reason and skipped.
"""

import csv
import json
import logging
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel

from models.codes import MESH
from models.formats import FORMATS, NoteFormat, parse_notes
from models.labels import EntityType
from models.messages import NoteRejected
from models.spans import AdePair, Annotations, Code, Entity

log = logging.getLogger(__name__)

BC5CDR_TYPES = {"Chemical": EntityType.DRUG, "Disease": EntityType.DISEASE}
BRAT_TYPES = {entity_type.value: entity_type for entity_type in EntityType}
BRAT_ADE_RELATIONS = {"Adverse_drug_event", "ADE", "CID", "Causes"}


class CorpusFormat(StrEnum):
    JSONL = "jsonl"
    PHEE = "phee"
    BC5CDR = "bc5cdr"
    BRAT = "brat"
    MTSAMPLES = "mtsamples"
    DEID = "deid"
    ADE_LLM = "ade_llm"
    HL7V2 = "hl7v2"
    FHIR = "fhir"


class Document(BaseModel):
    """A text with its labels where it has them: gold from a corpus, or a teacher's."""

    doc_id: str
    text: str
    labels: Annotations | None = None
    # Where several teachers were combined into `labels`: each one's own labels, so that
    # training can learn from their agreement (soft targets) rather than only the vote.
    readings: list[Annotations] | None = None
    # Words (character spans) whose teacher label students trained without them confidently
    # contradict (trainer/label_errors.py): left out of the loss.
    doubtful: list[tuple[int, int]] = []
    patient_id: str | None = None
    encounter_id: str | None = None


def read_corpus(path: Path, corpus_format: CorpusFormat) -> list[Document]:
    readers = {
        CorpusFormat.JSONL: read_jsonl_notes,
        CorpusFormat.PHEE: read_phee,
        CorpusFormat.BC5CDR: read_bc5cdr,
        CorpusFormat.BRAT: read_brat,
        CorpusFormat.MTSAMPLES: read_mtsamples,
        CorpusFormat.DEID: read_deid,
        CorpusFormat.ADE_LLM: read_ade_llm,
        CorpusFormat.HL7V2: lambda path: read_messages(path, NoteFormat.HL7V2),
        CorpusFormat.FHIR: lambda path: read_messages(path, NoteFormat.FHIR),
    }
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return list(readers[corpus_format](path))


def _annotations(entities: list[Entity], pairs: list[AdePair]) -> Annotations:
    """Sorted, with duplicate mentions (same span and type) kept once."""
    unique = {(e.start, e.end, e.type): e for e in entities}
    pair_keys = {(p.drug.start, p.drug.end, p.effect.start, p.effect.end): p for p in pairs}
    return Annotations(
        entities=sorted(unique.values(), key=lambda e: (e.start, e.end)),
        ade_pairs=sorted(pair_keys.values(), key=lambda p: (p.effect.start, p.drug.start)),
    )


def read_jsonl_notes(path: Path) -> Iterator[Document]:
    """One `{"note_id", "text"}` object a line."""
    with path.open() as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if "note_id" not in record or "text" not in record:
                raise ValueError(f"{path}:{number}: a note needs note_id and text")
            yield Document(doc_id=str(record["note_id"]), text=record["text"])


def read_messages(path: Path, note_format: NoteFormat) -> Iterator[Document]:
    """A file of messages in a hospital format, decoded one by one as the stream does."""
    data = path.read_bytes()
    for number, message in enumerate(FORMATS[note_format].split(data), 1):
        for note in parse_notes(message, len(message), len(message), note_format):
            if isinstance(note, NoteRejected):
                log.warning("%s: message %d skipped: %s: %s", path.name, number,
                            note.reason.value, note.error)  # fmt: skip
                continue
            yield Document(
                doc_id=note.note_id,
                text=note.text,
                patient_id=note.patient_id,
                encounter_id=note.encounter_id,
            )


def read_phee(path: Path) -> Iterator[Document]:
    with path.open() as lines:
        for line in lines:
            record = json.loads(line)
            text = record["context"]
            entities: list[Entity] = []
            pairs: list[AdePair] = []
            for annotation in record["annotations"]:
                for event in annotation["events"]:
                    drugs = _phee_spans(text, event.get("Treatment", {}).get("Drug"))
                    drug_entities = [Entity.in_note(text, s, e, EntityType.DRUG) for s, e in drugs]
                    entities += drug_entities
                    if event["event_type"] != "Adverse_event":
                        continue
                    # PHEE marks an event speculated ("can occur") or negated.
                    stated = {"possible": _phee_flag(event, "Speculated"),
                              "negated": _phee_flag(event, "Negated")}  # fmt: skip
                    for start, end in _phee_spans(text, event.get("Effect")):
                        effect = Entity.in_note(text, start, end, EntityType.ADE, **stated)
                        entities.append(effect)
                        pairs += [AdePair(drug=d, effect=effect, confidence=1.0)
                                  for d in drug_entities]  # fmt: skip
            yield Document(doc_id=record["id"], text=text, labels=_annotations(entities, pairs))


def span_entity(text: str, span: dict) -> Entity:
    """An `ade_llm` span, `{"start", "end", "type"}`, as an entity (gold and LLM answers alike)."""
    return Entity.in_note(text, span["start"], span["end"], EntityType(span["type"]))


def read_ade_llm(path: Path) -> Iterator[Document]:
    """`{"note_id", "text", "llm": {...}, "gold": {"entities", "ade_pairs"}}` a line; the gold
    (dev only) becomes the labels."""
    with path.open() as lines:
        for line in lines:
            record = json.loads(line)
            text, gold = record["text"], record.get("gold")
            labels = None
            if gold is not None:
                entities = [span_entity(text, span) for span in gold["entities"]]
                pairs = [
                    AdePair(drug=Entity.in_note(text, *pair["drug"], EntityType.DRUG),
                            effect=Entity.in_note(text, *pair["effect"], EntityType.ADE),
                            confidence=1.0)
                    for pair in gold["ade_pairs"]
                ]  # fmt: skip
                labels = _annotations(entities, pairs)
            yield Document(doc_id=record["note_id"], text=text, labels=labels)


def _phee_flag(event: dict, attribute: str) -> bool:
    return bool(event.get(attribute, {}).get("value"))


def _phee_spans(text: str, argument: dict | None) -> list[tuple[int, int]]:
    """One (start, end) per mention; a discontinuous mention spans its first to last piece."""
    if not argument:
        return []
    spans = []
    for pieces, starts in zip(argument["text"], argument["start"], strict=True):
        ends = [start + len(piece) for piece, start in zip(pieces, starts, strict=True)]
        spans.append((min(starts), max(ends)))
    return spans


def read_bc5cdr(path: Path) -> Iterator[Document]:
    """PubTator: title, abstract, then mention lines; offsets into `title + " " + abstract`."""
    for block in re.split(r"\n\s*\n", path.read_text().strip()):
        title = abstract = ""
        mentions: list[tuple[int, int, str, list[Code]]] = []
        pmid = ""
        for line in block.splitlines():
            if "|t|" in line:
                pmid, _, title = line.split("|", 2)
            elif "|a|" in line:
                abstract = line.split("|", 2)[2]
            else:
                fields = line.split("\t")
                if len(fields) >= 5 and fields[1] != "CID":
                    # Column 6: MeSH ids, "|"-separated for a composite mention, -1 for none.
                    ids = fields[5].split("|") if len(fields) > 5 else []
                    codes = [Code(system=MESH, code=i) for i in ids if i.startswith(("C", "D"))]
                    mentions.append((int(fields[1]), int(fields[2]), fields[4], codes))
        text = f"{title} {abstract}"
        entities = [
            Entity.in_note(text, start, end, BC5CDR_TYPES[kind], codes=codes)
            for start, end, kind, codes in mentions
            if kind in BC5CDR_TYPES
        ]
        yield Document(doc_id=pmid, text=text, labels=_annotations(entities, []))


def read_brat(path: Path, types: dict[str, EntityType] = BRAT_TYPES) -> Iterator[Document]:
    """A folder of `name.txt` with `name.ann` beside it."""
    for text_file in sorted(path.glob("*.txt")):
        text = text_file.read_text()
        by_id: dict[str, Entity] = {}
        pairs: list[AdePair] = []
        ann_file = text_file.with_suffix(".ann")
        lines = ann_file.read_text().splitlines() if ann_file.exists() else []
        for line in lines:
            if line.startswith("T"):
                mention_id, body, _ = line.split("\t", 2)
                kind, offsets = body.split(" ", 1)
                pieces = [tuple(map(int, p.split())) for p in offsets.split(";")]
                if kind in types:
                    start, end = pieces[0][0], pieces[-1][1]
                    by_id[mention_id] = Entity.in_note(text, start, end, types[kind])
        for line in lines:
            if line.startswith("R"):
                _, body = line.split("\t", 1)[:2]
                kind, first, second = body.split()[:3]
                ids = [argument.split(":", 1)[1] for argument in (first, second)]
                found = [by_id.get(i) for i in ids]
                if kind in BRAT_ADE_RELATIONS and all(found):
                    drug, effect = sorted(found, key=lambda e: e.type != EntityType.DRUG)
                    pairs.append(AdePair(drug=drug, effect=effect, confidence=1.0))
        yield Document(
            doc_id=text_file.stem, text=text, labels=_annotations(list(by_id.values()), pairs)
        )


def read_mtsamples(path: Path) -> Iterator[Document]:
    """No header: index, description, specialty, sample_name, transcription, keywords."""
    csv.field_size_limit(1 << 24)
    with path.open(newline="") as handle:
        for row in csv.reader(handle):
            if len(row) > 4 and row[4].strip():
                yield Document(doc_id=f"mtsamples-{row[0].strip()}", text=row[4])


def read_deid(path: Path) -> Iterator[Document]:
    """`START_OF_RECORD=<pid>||||<note>||||` header line, body, `||||END_OF_RECORD`."""
    records = re.finditer(
        r"START_OF_RECORD=(\d+)\|\|\|\|(\d+)\|\|\|\|\n(.*?)\|\|\|\|END_OF_RECORD",
        path.read_text(),
        flags=re.DOTALL,
    )
    for record in records:
        patient, note, body = record.groups()
        if body.strip():
            yield Document(doc_id=f"deid-{patient}-{note}", text=body)
