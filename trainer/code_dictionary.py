"""A site dictionary of mention -> codes, built from a corpus whose gold carries codes.

Each (mention, type) keeps the codes its annotators gave it most often; composite mentions
(several codes on one span) keep all of theirs. Built from a train split, it is scored on dev
by `clinstream evaluate` like any other coding.
"""

from collections import Counter, defaultdict
from pathlib import Path

from models.codes import DictionaryEntry, key
from models.labels import EntityType
from trainer.corpora import Document


def build_dictionary(documents: list[Document]) -> list[DictionaryEntry]:
    seen: defaultdict[tuple[str, EntityType], Counter] = defaultdict(Counter)
    surface: dict[tuple[str, EntityType], str] = {}  # as first written, for people to read
    for document in documents:
        for entity in document.labels.entities if document.labels else []:
            if entity.codes:
                codes = tuple((c.system, c.code, c.display or "") for c in entity.codes)
                mention = key(entity.text), entity.type
                seen[mention][codes] += 1
                surface.setdefault(mention, entity.text)
    return [
        DictionaryEntry(
            text=surface[mention], type=mention[1], system=system, code=code, display=display
        )
        for mention, counts in sorted(seen.items())
        for system, code, display in counts.most_common(1)[0][0]
    ]


def write_dictionary(entries: list[DictionaryEntry], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(entry.model_dump_json() + "\n" for entry in entries))
