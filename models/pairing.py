"""Drug→adverse-effect pairing learned from data: a logistic model over candidate pairs.

The nearest drug in the sentence is a guess that fails where one sentence names a treatment and
its culprit ("started metformin after lisinopril caused a cough") or one effect has two drugs
("rash on amoxicillin and clavulanate"). A pair model scores every (drug, effect) candidate of a
sentence from what lies between them and around them; it is trained by `trainer.pairs` on data
that has pairs, and saved in the student's folder (`pairing.json`), so the Triton model and
offline extraction pair the same way. Without the file, the nearest-drug rule pairs.
"""

import math
import re
from pathlib import Path

from pydantic import BaseModel, Field

from models.spans import AdePair, Entity

PAIRING_FILE = "pairing.json"
_WORD = re.compile(r"[a-z]+|[^\sa-z0-9]")


def _bucket(count: int, edges: tuple[int, ...]) -> str:
    """`count` as the first edge it does not exceed, or `>last`."""
    return next((str(edge) for edge in edges if count <= edge), f">{edges[-1]}")


def candidate_features(
    text: str, drug: Entity, effect: Entity, sentence_drugs: list[Entity],
    sentence_effects: list[Entity],
) -> dict[str, float]:  # fmt: skip
    """Sparse features of one (drug, effect) candidate within its sentence."""
    first, second = sorted((drug, effect), key=lambda e: e.start)
    order = "effect_first" if first is effect else "drug_first"
    words_between = _WORD.findall(text[first.end : second.start].lower())
    gap = _bucket(len(words_between), (0, 1, 2, 4, 7, 12, 20))
    nearest = sorted(sentence_drugs, key=lambda d: abs(d.start - effect.start))
    rank = _bucket(next(i for i, d in enumerate(nearest) if d is drug), (0, 1))

    def mentions_between(mentions: list[Entity]) -> int:
        return sum(first.end <= m.start and m.end <= second.start for m in mentions)

    before = _WORD.findall(text[max(0, first.start - 40) : first.start].lower())[-2:]
    after = _WORD.findall(text[second.end : second.end + 40].lower())[:2]
    features = {
        f"order={order}": 1.0,
        f"gap={order}:{gap}": 1.0,
        f"rank={rank}": 1.0,
        f"drugs_in_sentence={_bucket(len(sentence_drugs), (1, 2, 3))}": 1.0,
        f"drugs_between={_bucket(mentions_between(sentence_drugs), (0, 1))}": 1.0,
        f"effects_between={_bucket(mentions_between(sentence_effects), (0, 1))}": 1.0,
        **{f"before={word}": 1.0 for word in before},
        **{f"after={word}": 1.0 for word in after},
    }
    for word in words_between:
        features[f"between={word}"] = 1.0
    return features


class PairModel(BaseModel):
    """Weights of a logistic model over named features; a candidate pairs at `threshold`."""

    weights: dict[str, float]
    bias: float
    threshold: float = Field(0.5, gt=0, lt=1)
    trained_on: str

    def probability(self, features: dict[str, float]) -> float:
        score = self.bias + sum(self.weights.get(name, 0.0) * v for name, v in features.items())
        return 1 / (1 + math.exp(-score))

    def pairs(
        self, text: str, effect: Entity, sentence_drugs: list[Entity],
        sentence_effects: list[Entity],
    ) -> list[AdePair]:  # fmt: skip
        """The drugs of its sentence that `effect` pairs with: each at or over the threshold."""
        pairs = []
        for drug in sentence_drugs:
            features = candidate_features(text, drug, effect, sentence_drugs, sentence_effects)
            probability = self.probability(features)
            if probability >= self.threshold:
                confidence = round(drug.confidence * effect.confidence * probability, 4)
                pairs.append(AdePair(drug=drug, effect=effect, confidence=confidence))
        return pairs

    def save(self, directory: Path) -> Path:
        path = directory / PAIRING_FILE
        path.write_text(self.model_dump_json(indent=1) + "\n")
        return path

    @classmethod
    def load(cls, directory: Path) -> "PairModel | None":
        """The pair model saved in a student's folder, if it has one."""
        path = directory / PAIRING_FILE
        return cls.model_validate_json(path.read_text()) if path.is_file() else None
