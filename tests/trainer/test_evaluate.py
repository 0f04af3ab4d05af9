from models.labels import EntityType
from models.spans import AdePair, Annotations, Entity
from trainer.corpora import CorpusFormat
from trainer.evaluate import SCORED_TYPES, evaluate


def e(entity_type: EntityType, start: int, end: int) -> Entity:
    return Entity(type=entity_type, start=start, end=end, text="x" * (end - start), confidence=1)


def test_strict_needs_the_exact_span_lenient_an_overlap():
    gold = [Annotations(entities=[e(EntityType.DRUG, 0, 8), e(EntityType.ADE, 20, 30)],
                        ade_pairs=[])]  # fmt: skip
    predicted = [Annotations(entities=[e(EntityType.DRUG, 0, 8), e(EntityType.ADE, 22, 30),
                                       e(EntityType.SYMPTOM, 40, 45)], ade_pairs=[])]  # fmt: skip
    report = evaluate(gold, predicted)
    assert report.strict["DRUG"].f1 == 1.0
    assert report.strict["ADE"].f1 == 0.0
    assert report.lenient["ADE"].f1 == 1.0
    assert report.strict["SYMPTOM"].p == 0.0
    assert report.strict["micro"].p == round(1 / 3, 4)
    assert report.strict["micro"].r == 0.5


def test_adjacent_spans_do_not_overlap():
    gold = [Annotations(entities=[e(EntityType.DRUG, 0, 5)], ade_pairs=[])]
    predicted = [Annotations(entities=[e(EntityType.DRUG, 5, 9)], ade_pairs=[])]
    assert evaluate(gold, predicted).lenient["DRUG"].f1 == 0.0


def test_bc5cdr_scores_symptoms_and_effects_as_diseases():
    gold = [Annotations(entities=[e(EntityType.DISEASE, 0, 4), e(EntityType.DRUG, 10, 14)],
                        ade_pairs=[])]  # fmt: skip
    predicted = [Annotations(entities=[e(EntityType.SYMPTOM, 0, 4), e(EntityType.DRUG, 10, 14)],
                             ade_pairs=[])]  # fmt: skip
    report = evaluate(gold, predicted, SCORED_TYPES[CorpusFormat.BC5CDR])
    assert set(report.strict) == {"chemical", "disease", "micro"}
    assert report.strict["disease"].f1 == 1.0


def test_ade_pairs_match_on_both_spans():
    drug, effect, other = (
        e(EntityType.DRUG, 0, 4),
        e(EntityType.ADE, 10, 14),
        e(EntityType.ADE, 20, 24),
    )
    stated = [AdePair(drug=drug, effect=x, confidence=1) for x in (effect, other)]
    gold = [Annotations(entities=[drug, effect, other], ade_pairs=stated)]
    predicted = [Annotations(entities=[drug, effect], ade_pairs=stated[:1])]
    pairs = evaluate(gold, predicted).ade_pairs
    assert (pairs.p, pairs.r, pairs.support) == (1.0, 0.5, 2)


def test_assertions_are_scored_on_exactly_found_mentions_where_gold_marks_them():
    def ade(start: int, **flags: bool) -> Entity:
        return e(EntityType.ADE, start, start + 4).model_copy(update=flags)

    gold = [Annotations(entities=[ade(0, possible=True), ade(10, possible=True), ade(20),
                                  ade(30, possible=True)], ade_pairs=[])]  # fmt: skip
    predicted = [Annotations(entities=[ade(0, hypothetical=True), ade(10), ade(20, possible=True),
                                       ade(31, possible=True)], ade_pairs=[])]  # fmt: skip
    assertions = evaluate(gold, predicted).assertions
    # The mention at 30 is not found exactly, so it does not count; gold marks no negation.
    assert set(assertions) == {"speculation"}
    assert (assertions["speculation"].p, assertions["speculation"].r) == (0.5, 0.5)
    assert assertions["speculation"].support == 2
