"""Scoring against gold: entity P/R/F1 per type, strict and lenient, and ADE pair F1.

Counting is nervaluate's: `strict` is exact span and type, `ent_type` (our lenient) is overlap
and type; `micro` is over all types. ADE pairs match when both the drug and the effect spans are
exact. Each corpus scores under its own type names (`SCORED_TYPES`): our SYMPTOM and ADE both
count as BC5CDR's Disease, for instance, since BC5CDR annotates them as diseases.
"""

from collections.abc import Callable, Mapping

from nervaluate import Evaluator
from pydantic import BaseModel

from models.labels import EntityType
from models.spans import Annotations, Entity
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
    got a code in that system (coverage), and of those how many the right one first
    (precision: what a consumer grouping by code sees)."""

    correct: int
    coded: int
    mentions: int
    precision: float
    coverage: float


class Report(BaseModel):
    """The object `clinstream evaluate --json` prints."""

    documents: int
    strict: dict[str, Score]
    lenient: dict[str, Score]
    ade_pairs: Score
    normalisation: dict[str, Normalisation] = {}
    # Of the gold mentions found with exact span and type, where gold marks assertions (PHEE
    # marks speculated and negated events): whether the prediction flags them alike.
    assertions: dict[str, Score] = {}


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
        assertions=_assertions(gold, predicted, types),
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
            tally = counts.setdefault(label, [0, 0, 0])
            tally[0] += first in {c.code for c in entity.codes}
            tally[1] += first is not None
            tally[2] += 1
    if not counts:
        return {}
    counts[MICRO] = [sum(t[i] for t in counts.values()) for i in range(3)]
    return {
        label: Normalisation(
            correct=c, coded=k, mentions=n, precision=round(c / k, 4) if k else 0.0,
            coverage=round(k / n, 4) if n else 0.0,
        )
        for label, (c, k, n) in counts.items()
    }  # fmt: skip


# Assertions scored against gold, each as a test on one entity.
_ASSERTIONS: dict[str, Callable[[Entity], bool]] = {
    "speculation": lambda e: e.possible or e.hypothetical,
    "negation": lambda e: e.negated,
    "family": lambda e: e.family,
}


def _assertions(
    gold: list[Annotations], predicted: list[Annotations], types: Mapping[EntityType, str]
) -> dict[str, Score]:
    matched = [
        (entity, found[(entity.start, entity.end, types.get(entity.type))])
        for g, p in zip(gold, predicted, strict=True)
        for found in [{(e.start, e.end, types.get(e.type)): e for e in p.entities}]
        for entity in g.entities
        if (entity.start, entity.end, types.get(entity.type)) in found
    ]
    scores = {}
    for name, flagged in _ASSERTIONS.items():
        if not any(flagged(g) for g, _ in matched):
            continue  # this gold does not mark it
        scores[name] = _counted(
            hits=sum(flagged(g) and flagged(p) for g, p in matched),
            found=sum(flagged(p) for _, p in matched),
            possible=sum(flagged(g) for g, _ in matched),
        )
    return scores


def _counted(*, hits: int, found: int, possible: int) -> Score:
    precision = hits / found if found else 0.0
    recall = hits / possible if possible else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(p=round(precision, 4), r=round(recall, 4), f1=round(f1, 4), support=possible)


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
    return _counted(hits=true_positives, found=found, possible=possible)
