"""A teacher of teachers: the LLM for what needs reading (effects, ADE pairs, diseases,
symptoms), the lexicon for recall on drug names the LLM missed."""

from models.decoding import annotate
from models.labels import EntityType
from models.spans import Annotations
from trainer.teachers.base import Teacher


class EnsembleTeacher:
    name = "ensemble"

    def __init__(self, reader: Teacher, lexicon: Teacher) -> None:
        self.reader = reader
        self.lexicon = lexicon

    @property
    def usage(self):
        """The reader's usage (tokens, cost), where it keeps one."""
        return getattr(self.reader, "usage", None)

    @property
    def version(self) -> str:
        return f"{self.reader.version}+{self.lexicon.version}"

    def label_batch(self, texts: list[str]) -> list[Annotations]:
        return [
            _combine(text, read, listed)
            for text, read, listed in zip(
                texts, self.reader.label_batch(texts), self.lexicon.label_batch(texts), strict=True
            )
        ]


def _combine(text: str, read: Annotations, listed: Annotations) -> Annotations:
    extra_drugs = [
        drug
        for drug in listed.entities
        if drug.type == EntityType.DRUG
        and all(drug.end <= e.start or drug.start >= e.end for e in read.entities)
    ]
    if not extra_drugs:
        return read
    entities = sorted([*read.entities, *extra_drugs], key=lambda e: e.start)
    # The reader's own pairs stand; an added drug is paired only where the reader found an
    # effect with no drug to pair it with.
    paired_effects = {(p.effect.start, p.effect.end) for p in read.ade_pairs}
    added = [
        pair
        for pair in annotate(text, entities).ade_pairs
        if (pair.effect.start, pair.effect.end) not in paired_effects and pair.drug in extra_drugs
    ]
    pairs = sorted([*read.ade_pairs, *added], key=lambda p: (p.effect.start, p.drug.start))
    return Annotations(entities=entities, ade_pairs=pairs)
