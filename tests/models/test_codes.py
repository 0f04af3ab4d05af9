"""Concept codes on mentions: lookup by the variants notes write, and nothing for no match."""

import json
from collections import Counter
from pathlib import Path

import pytest

from models.codes import DRUGBANK, HPO, MESH, UMLS, codes_for, with_codes
from models.labels import EntityType
from models.messages import Extraction
from models.spans import AdePair, Annotations, Entity


def systems(text: str, entity_type: EntityType) -> dict[str, str]:
    return {code.system: code.code for code in codes_for(text, entity_type)}


def test_a_drug_gets_its_drugbank_id_by_generic_or_brand_name_in_any_case():
    assert systems("Amoxicillin", EntityType.DRUG)[DRUGBANK] == "DB01060"
    assert (
        systems("LASIX", EntityType.DRUG)[DRUGBANK]
        == systems("furosemide", EntityType.DRUG)[DRUGBANK]
    )
    assert set(systems("amoxicillin", EntityType.DRUG)) == {DRUGBANK}  # no packaged MeSH


@pytest.mark.parametrize(
    ("variant", "canonical", "entity_type"),
    [
        ("headaches", "headache", EntityType.SYMPTOM),  # plural
        ("failure, renal", "renal failure", EntityType.DISEASE),  # word order
        ("HTN", "hypertension", EntityType.DISEASE),  # abbreviation
        ("severe nausea", "nausea", EntityType.ADE),  # modifier
    ],
)
def test_variants_get_the_codes_of_their_canonical_form(variant, canonical, entity_type):
    assert codes_for(variant, entity_type) == codes_for(canonical, entity_type) != []


def test_symptoms_carry_hpo_and_an_unmatched_mention_carries_nothing():
    assert systems("nausea", EntityType.SYMPTOM) == {HPO: "HP:0002018", UMLS: "C0027497"}
    # HPO's Seizure cross-references two CUIs (seizures, epilepsy): no CUI is guessed.
    assert systems("seizures", EntityType.ADE) == {HPO: "HP:0001250"}
    assert codes_for("zorblatt syndrome of the left toe", EntityType.DISEASE) == []
    assert codes_for("zorblatt", EntityType.DRUG) == []


def test_with_codes_codes_entities_and_the_entities_of_pairs():
    drug = Entity(type=EntityType.DRUG, start=0, end=7, text="aspirin", confidence=0.9)
    effect = Entity(type=EntityType.ADE, start=12, end=16, text="rash", confidence=0.9)
    coded = with_codes(
        Annotations(
            entities=[drug, effect], ade_pairs=[AdePair(drug=drug, effect=effect, confidence=0.8)]
        )  # fmt: skip
    )
    assert all(entity.codes for entity in coded.entities)
    assert coded.ade_pairs[0].drug.codes == coded.entities[0].codes
    assert coded.ade_pairs[0].effect.codes == coded.entities[1].codes


def test_a_version_1_extraction_without_codes_is_still_read():
    v1 = (
        '{"schema_version": 1, "note_id": "n", "model_name": "student", "model_version": "1",'
        ' "entities": [{"type": "DRUG", "start": 0, "end": 7, "text": "aspirin",'
        ' "confidence": 0.9}], "ade_pairs": []}'
    )
    extraction = Extraction.model_validate_json(v1)
    assert extraction.schema_version == 1
    assert extraction.entities[0].codes == []
    assert Extraction(note_id="n", model_name="s", model_version="1", entities=[],
                      ade_pairs=[]).schema_version == 3  # fmt: skip


def test_a_site_dictionary_built_from_coded_gold_is_looked_up_first(tmp_path, monkeypatch):
    from models import codes
    from trainer.code_dictionary import build_dictionary, write_dictionary
    from trainer.corpora import CorpusFormat, read_corpus

    corpus = tmp_path / "coded.PubTator.txt"
    corpus.write_text(
        "1|t|Seizures after lithium.\n1|a|Seizures resolved.\n"
        "1\t0\t8\tSeizures\tDisease\tD012640\n"
        "1\t15\t22\tlithium\tChemical\tD008094\n"
        "1\t24\t32\tSeizures\tDisease\tD012640\n"
    )
    path = tmp_path / "site.jsonl"
    write_dictionary(build_dictionary(read_corpus(corpus, CorpusFormat.BC5CDR)), path)
    monkeypatch.setenv("CLINSTREAM_CODES_DICTIONARY", str(path))
    codes.site_index.cache_clear()
    try:
        assert systems("seizure", EntityType.ADE) == {MESH: "D012640"}  # singular, any disorder
        assert systems("Lithium", EntityType.DRUG) == {MESH: "D008094"}
        assert DRUGBANK in systems("amoxicillin", EntityType.DRUG)  # not in it: the lexicon
    finally:
        codes.site_index.cache_clear()


def test_a_site_dictionary_line_without_a_code_is_refused():
    from pydantic import ValidationError

    from models.codes import DictionaryEntry

    with pytest.raises(ValidationError):
        DictionaryEntry.model_validate_json(
            '{"text": "seizures", "type": "DISEASE", "system": "http://id.nlm.nih.gov/mesh",'
            ' "code": ""}'
        )


HAND_CHECKED = Path(__file__).resolve().parents[1] / "fixtures" / "hand_checked_codes.jsonl"


def test_every_shipped_code_system_is_right_on_at_least_95_percent_of_hand_checked_mentions():
    """Each row: a mention (distinct gold mention strings of PHEE and ADE Corpus dev, sampled
    with a seed), a code the lookup gives it, and whether a person found it right. UMLS rows
    are judged with their HPO term: the CUI is HPO's own cross-reference of that term."""
    rows = [json.loads(line) for line in HAND_CHECKED.read_text().splitlines()]
    for row in rows:  # the fixture still describes what ships
        assert {row["system"]: row["code"]}.items() <= systems(
            row["text"], EntityType(row["type"])
        ).items(), row["text"]
    checked = Counter(row["system"] for row in rows)
    right = Counter(row["system"] for row in rows if row["correct"])
    assert set(checked) == {DRUGBANK, HPO, UMLS}
    for system, count in checked.items():
        assert count >= 100, system
        assert right[system] / count >= 0.95, (system, right[system], count)
