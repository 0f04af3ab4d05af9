"""Learning drug→adverse-effect pairing from documents whose labels have real pairs.

Candidates are the (drug, effect) mentions of one sentence; a candidate is positive when the
labels pair them. Gold corpora (PHEE train) give the supervised reference; LLM-written PHEE
events (`phee_chatgpt`) give pairs to distil from. Teacher labels of plain text carry only the
nearest-drug guess, which a model would just learn back, so they are no source of pairs.
"""

from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

from models.decoding import pair_adverse_events, pair_candidates
from models.labels import EntityType
from models.pairing import PairModel, candidate_features
from models.spans import Annotations
from trainer.corpora import Document
from trainer.evaluate import Score, evaluate


def pair_examples(documents: list[Document]) -> tuple[list[dict[str, float]], list[int]]:
    """Features of every candidate in the documents' labels, and 1 where the labels pair it."""
    features, paired = [], []
    for document in documents:
        gold = {(p.drug.start, p.drug.end, p.effect.start, p.effect.end)
                for p in document.labels.ade_pairs}  # fmt: skip
        for effect, drugs, effects in pair_candidates(document.text, document.labels.entities):
            for drug in drugs:
                features.append(candidate_features(document.text, drug, effect, drugs, effects))
                paired.append(int((drug.start, drug.end, effect.start, effect.end) in gold))
    return features, paired


def fit_pair_model(documents: list[Document], trained_on: str) -> PairModel:
    """An L2 logistic regression over the candidates of `documents` (lbfgs, deterministic)."""
    features, paired = pair_examples([d for d in documents if d.labels is not None])
    if len(set(paired)) < 2:
        raise ValueError("pair training needs candidates both paired and not paired in the labels")
    vectorizer = DictVectorizer()
    model = LogisticRegression(max_iter=1000)
    model.fit(vectorizer.fit_transform(features), paired)
    weights = {
        name: round(float(weight), 5)
        for name, weight in zip(vectorizer.get_feature_names_out(), model.coef_[0], strict=True)
        if abs(weight) >= 1e-5
    }
    return PairModel(weights=weights, bias=float(model.intercept_[0]), trained_on=trained_on)


def pairing_on_gold_mentions(
    documents: list[Document], pairings: dict[str, PairModel | None], types: dict[EntityType, str]
) -> dict[str, Score]:
    """ADE pair P/R/F1 of each pairing given the gold mentions: pairing apart from finding."""
    gold = [d.labels for d in documents]
    return {
        name: evaluate(gold, repaired(documents, gold, pairing), types).ade_pairs
        for name, pairing in pairings.items()
    }


def repaired(
    documents: list[Document], predicted: list[Annotations], model: PairModel | None
) -> list[Annotations]:
    """`predicted` with its pairs redone by `model` (None: the nearest-drug rule)."""
    return [
        found.model_copy(update={"ade_pairs": pair_adverse_events(doc.text, found.entities, model)})
        for doc, found in zip(documents, predicted, strict=True)
    ]
