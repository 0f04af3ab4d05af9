"""Teacher labels brought to the gold corpora's guideline: one drug per mention, and a long
form apart from its abbreviation."""

from models.labels import EntityType
from models.spans import AdePair, Annotations, Entity
from trainer.corpora import Document
from trainer.guideline import abbreviations_apart, one_drug_per_mention, to_guideline
from trainer.settings import TrainingSettings


def _mention(text: str, mention: str, entity_type: EntityType) -> Entity:
    start = text.index(mention)
    return Entity(type=entity_type, start=start, end=start + len(mention), text=mention,
                  confidence=1.0)  # fmt: skip


def _drug_texts(text: str, labels: Annotations) -> list[str]:
    found = one_drug_per_mention(text, labels)
    assert all(text[e.start : e.end] == e.text for e in found.entities)
    return [e.text for e in found.entities if e.type == EntityType.DRUG]


def test_coordinated_drugs_become_one_mention_each_and_each_pairs_with_the_effect():
    text = "Nausea and vomiting after pegylated interferon and ribavirin."
    drugs = _mention(text, "pegylated interferon and ribavirin", EntityType.DRUG)
    effect = _mention(text, "Nausea and vomiting", EntityType.ADE)
    pair = AdePair(drug=drugs, effect=effect, confidence=1.0)
    labels = Annotations(entities=[effect, drugs], ade_pairs=[pair])
    found = one_drug_per_mention(text, labels)
    assert [e.text for e in found.entities] == [
        "Nausea and vomiting",  # effects keep their span
        "pegylated interferon",
        "ribavirin",
    ]
    assert [(p.drug.text, p.effect.text) for p in found.ade_pairs] == [
        ("pegylated interferon", "Nausea and vomiting"),
        ("ribavirin", "Nausea and vomiting"),
    ]


def test_lists_split_and_single_drug_names_stay_whole():
    text = "infliximab, gemtuzumab, and OKT3 or AZA plus 6-MP; 1,2-dimethyl trimethoprim-sulfa"
    listed = _mention(text, "infliximab, gemtuzumab, and OKT3 or AZA plus 6-MP", EntityType.DRUG)
    single = [_mention(text, name, EntityType.DRUG) for name in ("1,2-dimethyl",
                                                                 "trimethoprim-sulfa")]  # fmt: skip
    labels = Annotations(entities=[listed, *single], ade_pairs=[])
    assert _drug_texts(text, labels) == [
        "infliximab", "gemtuzumab", "OKT3", "AZA", "6-MP", "1,2-dimethyl", "trimethoprim-sulfa",
    ]  # fmt: skip


def test_a_long_form_and_its_abbreviation_become_two_mentions_each_paired():
    text = "Congestive heart failure (CHF) after 5-fluorouracil (5-FU); rash (mild); V(1)."
    effect = _mention(text, "Congestive heart failure (CHF)", EntityType.ADE)
    drug = _mention(text, "5-fluorouracil (5-FU)", EntityType.DRUG)
    kept = [_mention(text, m, EntityType.SYMPTOM) for m in ("rash (mild)", "V(1)")]
    labels = Annotations(
        entities=[effect, drug, *kept], ade_pairs=[AdePair(drug=drug, effect=effect, confidence=1)]
    )
    found = abbreviations_apart(text, labels)
    assert [(e.text, e.type) for e in found.entities] == [
        ("Congestive heart failure", EntityType.ADE),
        ("CHF", EntityType.ADE),
        ("5-fluorouracil", EntityType.DRUG),
        ("5-FU", EntityType.DRUG),
        ("rash (mild)", EntityType.SYMPTOM),  # a word in brackets is no abbreviation
        ("V(1)", EntityType.SYMPTOM),
    ]
    assert all(text[e.start : e.end] == e.text for e in found.entities)
    assert [(p.drug.text, p.effect.text) for p in found.ade_pairs] == [
        ("5-fluorouracil", "Congestive heart failure"),
        ("5-fluorouracil", "CHF"),
        ("5-FU", "Congestive heart failure"),
        ("5-FU", "CHF"),
    ]


def test_training_documents_split_in_their_labels_and_every_reading():
    text = "Heart failure (HF) on warfarin and aspirin."
    merged = Annotations(
        entities=[
            _mention(text, "Heart failure (HF)", EntityType.ADE),
            _mention(text, "warfarin and aspirin", EntityType.DRUG),
        ],
        ade_pairs=[],
    )
    alone = Annotations(entities=[_mention(text, "warfarin", EntityType.DRUG)], ade_pairs=[])
    document = Document(doc_id="1", text=text, labels=merged, readings=[merged, alone])
    split = to_guideline(document, TrainingSettings())
    assert [e.text for e in split.labels.entities] == ["Heart failure", "HF", "warfarin", "aspirin"]
    assert [[e.text for e in r.entities] for r in split.readings] == [
        ["Heart failure", "HF", "warfarin", "aspirin"],
        ["warfarin"],
    ]
    unchanged = TrainingSettings(one_drug_per_mention=False, abbreviations_apart=False)
    assert to_guideline(document, unchanged) == document
