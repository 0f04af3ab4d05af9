"""JSON Lines in and out for the batch commands: notes or corpora in, Extraction lines out."""

from pathlib import Path

from models.decoding import without_drugless_ade
from models.messages import Extraction, content_hash
from models.spans import Annotations
from trainer.combine import vote
from trainer.corpora import CorpusFormat, Document, read_corpus


def read_documents(path: Path, corpus_format: CorpusFormat = CorpusFormat.JSONL) -> list[Document]:
    return read_corpus(path, corpus_format)


def write_extractions(
    path: Path,
    documents: list[Document],
    annotations: list[Annotations],
    model_name: str,
    model_version: str,
    with_text: bool,
) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for document, found in zip(documents, annotations, strict=True):
            line = Extraction(
                note_id=document.doc_id,
                patient_id=document.patient_id,
                encounter_id=document.encounter_id,
                model_name=model_name,
                model_version=model_version,
                entities=found.entities,
                ade_pairs=found.ade_pairs,
                content_sha256=content_hash(document.text),
                text=document.text if with_text else None,
            )
            out.write(line.model_dump_json(exclude_none=True) + "\n")
    return len(documents)


def read_extractions(path: Path) -> list[Extraction]:
    with path.open() as lines:
        return [Extraction.model_validate_json(line) for line in lines if line.strip()]


def read_labels(path: Path) -> list[Document]:
    """A label file of `clinstream label` as training documents."""
    documents = []
    for number, extraction in enumerate(read_extractions(path), 1):
        if extraction.text is None:
            raise ValueError(f"{path}:{number} has no text; write it with `clinstream label`")
        documents.append(
            Document(
                doc_id=extraction.note_id,
                text=extraction.text,
                labels=Annotations(entities=extraction.entities, ade_pairs=extraction.ade_pairs),
            )
        )
    return documents


def read_votes(
    paths: list[Path], min_votes: int | None = None, ade_needs_drug: bool = False
) -> list[Document]:
    """Label files of several teachers over the same texts -> one set of training documents,
    each span kept where at least `min_votes` teachers have it, each teacher's own labels kept
    as a reading (the sentence head learns their agreement). With `ade_needs_drug`, a
    teacher's ADE mentions count only in a note where that teacher names a drug.

    Default: one teacher (the union). Its student with the sentence gate had the best ADE F1 on
    all ADE Corpus dev sentences and, with no gate, on relation sentences (bench/llm-teachers.md).
    """
    if len(paths) == 1:
        return read_labels(paths[0])
    per_teacher = [{d.doc_id: d for d in read_labels(path)} for path in paths]
    shared = [doc_id for doc_id in per_teacher[0] if all(doc_id in t for t in per_teacher)]
    if len(shared) < len(per_teacher[0]):
        missing = len(per_teacher[0]) - len(shared)
        raise ValueError(f"{missing} notes of {paths[0]} are missing from another label file")
    votes = min_votes or 1
    documents = []
    for doc_id in shared:
        readings = [teacher[doc_id] for teacher in per_teacher]
        if any(reading.text != readings[0].text for reading in readings):
            raise ValueError(f"note {doc_id} has a different text in two label files")
        labels = [reading.labels for reading in readings]
        if ade_needs_drug:
            labels = [without_drugless_ade(reading) for reading in labels]
        documents.append(
            Document(doc_id=doc_id, text=readings[0].text,
                     labels=vote(readings[0].text, labels, votes), readings=labels)
        )  # fmt: skip
    return documents


def align_predictions(
    documents: list[Document], extractions: list[Extraction]
) -> list[Annotations]:
    """Predictions in the order of the gold documents; a document with none predicted is empty."""
    by_id = {
        e.note_id: Annotations(entities=e.entities, ade_pairs=e.ade_pairs) for e in extractions
    }
    return [by_id.get(d.doc_id, Annotations(entities=[], ade_pairs=[])) for d in documents]
