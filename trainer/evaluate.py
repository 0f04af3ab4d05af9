"""Scoring against gold: entity P/R/F1 per type, strict and lenient, and ADE pair F1.

Counting is nervaluate's: `strict` is exact span and type, `ent_type` (our lenient) is overlap
and type; `micro` is over all types. ADE pairs match when both the drug and the effect spans are
exact. Each corpus scores under its own type names (`SCORED_TYPES`): our SYMPTOM and ADE both
count as BC5CDR's Disease, for instance, since BC5CDR annotates them as diseases.
"""

from collections.abc import Mapping

from nervaluate import Evaluator
from pydantic import BaseModel

from models.labels import EntityType
from models.spans import Annotations
from trainer.corpora import CorpusFormat

MICRO = "micro"
SCORED_TYPES: dict[CorpusFormat, dict[EntityType, str]] = {
    CorpusFormat.PHEE: {EntityType.DRUG: "drug", EntityType.ADE: "effect"},
    CorpusFormat.ADE_LLM: {EntityType.DRUG: "drug", EntityType.ADE: "ade"},
    CorpusFormat.BC5CDR: {
        EntityType.DRUG: "chemical",
        EntityType.DISEASE: "disease",
        EntityType.SYMPTOM: "disease",
        EntityType.ADE: "disease",
    },
}
OUR_TYPES = {entity_type: entity_type.value for entity_type in EntityType}


class Score(BaseModel):
    p: float
    r: float
    f1: float
    support: int  # gold mentions (or pairs)


class Normalisation(BaseModel):
    """Of the gold mentions found with exact span and type whose gold carries codes: how many
    got the right code first in that code system."""

    correct: int
    mentions: int
    accuracy: float


class Report(BaseModel):
    """The object `clinstream evaluate --json` prints."""

    documents: int
    strict: dict[str, Score]
    lenient: dict[str, Score]
    ade_pairs: Score
    normalisation: dict[str, Normalisation] = {}


def _spans(annotations: Annotations, types: Mapping[EntityType, str]) -> list[dict]:
    # nervaluate treats `end` as inclusive; ours is exclusive.
    return [
        {"label": types[e.type], "start": e.start, "end": e.end - 1}
        for e in annotations.entities
        if e.type in types
    ]


def _score(result) -> Score:
    return Score(
        p=round(result.precision, 4),
        r=round(result.recall, 4),
        f1=round(result.f1, 4),
        support=result.possible,
    )


def evaluate(
    gold: list[Annotations],
    predicted: list[Annotations],
    types: Mapping[EntityType, str] = OUR_TYPES,
) -> Report:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold documents but {len(predicted)} predictions")
    labels = sorted(set(types.values()))
    results = Evaluator(
        [_spans(g, types) for g in gold],
        [_spans(p, types) for p in predicted],
        tags=labels,
        loader="dict",
    ).evaluate()
    report = {}
    for ours, theirs in (("strict", "strict"), ("lenient", "ent_type")):
        # A type neither in gold nor predicted has no score.
        scores = {
            label: _score(results["entities"][label][theirs])
            for label in labels
            if label in results["entities"]
        }
        scores[MICRO] = _score(results["overall"][theirs])
        report[ours] = scores
    return Report(
        documents=len(gold),
        ade_pairs=_pair_score(gold, predicted),
        normalisation=_normalisation(gold, predicted, types),
        **report,
    )


def _normalisation(
    gold: list[Annotations], predicted: list[Annotations], types: Mapping[EntityType, str]
) -> dict[str, Normalisation]:
    counts: dict[str, list[int]] = {}
    for g, p in zip(gold, predicted, strict=True):
        found = {(e.start, e.end, types.get(e.type)): e for e in p.entities}
        for entity in g.entities:
            label = types.get(entity.type)
            match = found.get((entity.start, entity.end, label))
            if not entity.codes or match is None:
                continue
            system = entity.codes[0].system
            first = next((c.code for c in match.codes if c.system == system), None)
            tally = counts.setdefault(label, [0, 0])
            tally[0] += first in {c.code for c in entity.codes}
            tally[1] += 1
    if not counts:
        return {}
    counts[MICRO] = [sum(t[0] for t in counts.values()), sum(t[1] for t in counts.values())]
    return {
        label: Normalisation(correct=c, mentions=n, accuracy=round(c / n, 4) if n else 0.0)
        for label, (c, n) in counts.items()
    }


def _pair_score(gold: list[Annotations], predicted: list[Annotations]) -> Score:
    def pairs(annotations: Annotations) -> set[tuple[int, int, int, int]]:
        return {(p.drug.start, p.drug.end, p.effect.start, p.effect.end)
                for p in annotations.ade_pairs}  # fmt: skip

    true_positives = found = possible = 0
    for g, p in zip(gold, predicted, strict=True):
        gold_pairs, predicted_pairs = pairs(g), pairs(p)
        true_positives += len(gold_pairs & predicted_pairs)
        found += len(predicted_pairs)
        possible += len(gold_pairs)
    precision = true_positives / found if found else 0.0
    recall = true_positives / possible if possible else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(p=round(precision, 4), r=round(recall, 4), f1=round(f1, 4), support=possible)
