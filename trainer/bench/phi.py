"""What a student invents on real notes: entities per note on the PhysioNet deid nursing notes,
and how many sit on the corpus's gold PHI spans (names, places, dates, ids: no clinical entity
is one), beside the lexicon teacher. The PHI spans only measure; nothing trains on them."""

from collections import Counter, defaultdict
from pathlib import Path

from pydantic import BaseModel

from models.spans import Annotations
from trainer.corpora import Document, read_deid


class PhiOverlap(BaseModel):
    name: str
    notes: int
    entities: int
    entities_per_note: float
    on_phi: int  # entities overlapping a gold PHI span
    on_phi_by_kind: dict[str, int]  # by the span's PHI kind (HCPName, Location, ...)


def deid_notes(deid_dir: Path) -> list[Document]:
    return list(read_deid(deid_dir / "id.text"))


def phi_spans(deid_dir: Path) -> dict[str, list[tuple[int, int, str]]]:
    """doc_id -> (start, end, kind) of each gold PHI span (`id-phi.phrase`)."""
    spans: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for line in (deid_dir / "id-phi.phrase").read_text().splitlines():
        patient, note, start, end, kind, *_ = line.split()
        spans[f"deid-{patient}-{note}"].append((int(start), int(end), kind))
    return spans


def phi_overlap(
    name: str,
    documents: list[Document],
    annotations: list[Annotations],
    spans: dict[str, list[tuple[int, int, str]]],
) -> PhiOverlap:
    on_phi: Counter[str] = Counter()
    entities = 0
    for document, found in zip(documents, annotations, strict=True):
        for entity in found.entities:
            entities += 1
            kinds = [
                k
                for s, e, k in spans.get(document.doc_id, ())
                if s < entity.end and entity.start < e
            ]
            if kinds:
                on_phi[kinds[0]] += 1
    return PhiOverlap(
        name=name, notes=len(documents), entities=entities,
        entities_per_note=round(entities / max(len(documents), 1), 2),
        on_phi=sum(on_phi.values()), on_phi_by_kind=dict(on_phi.most_common()),
    )  # fmt: skip
