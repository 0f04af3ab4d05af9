"""Assertion and section of each finding, by medspaCy's ConText and Sectionizer."""

import subprocess
import sys

import pytest

from models.context import mark_context
from models.labels import EntityType
from models.spans import Entity


def marked(text: str, mention: str, entity_type: EntityType = EntityType.SYMPTOM) -> Entity:
    start = text.index(mention)
    entity = Entity(type=entity_type, start=start, end=start + len(mention), text=mention,
                    confidence=1.0)  # fmt: skip
    (result,) = mark_context(text, [entity])
    return result


@pytest.mark.parametrize(
    ("text", "mention", "expected"),
    [
        ("He denies chest pain.", "chest pain", True),
        ("No fever, chills or vomiting.", "vomiting", True),
        ("Negative for hematuria.", "hematuria", True),
        ("Pulmonary embolism was ruled out.", "Pulmonary embolism", True),
        ("Denies nausea but reports vomiting.", "vomiting", False),
        ("Denies nausea. Has vomiting.", "vomiting", False),
        ("Developed rash after amoxicillin.", "rash", False),
    ],
)
def test_negation(text, mention, expected):
    assert marked(text, mention).negated is expected


@pytest.mark.parametrize(
    ("text", "mention", "attribute"),
    [
        ("Amiodarone may cause thyrotoxicosis.", "thyrotoxicosis", "possible"),
        ("Assessment: possible pneumonia.", "pneumonia", "possible"),
        ("Patients on statins are at risk of rhabdomyolysis.", "rhabdomyolysis", "possible"),
        ("If rash develops, stop amoxicillin.", "rash", "hypothetical"),
        ("Family history of myocardial infarction.", "myocardial infarction", "family"),
        ("History of stroke in 2010.", "stroke", "historical"),
    ],
)
def test_assertions_beyond_negation(text, mention, attribute):
    found = marked(text, mention, EntityType.ADE)
    assert getattr(found, attribute) is True
    assert not found.asserted or attribute == "historical"


def test_a_plain_statement_is_asserted_and_a_sentence_end_stops_a_cue():
    found = marked("Family history of diabetes. Developed nausea on metformin.", "nausea")
    assert found.asserted and not found.historical


def test_a_family_history_section_makes_its_findings_the_familys_and_names_the_section():
    text = "FAMILY HISTORY: mother with diabetes.\nALLERGIES: penicillin causes hives."
    diabetes = marked(text, "diabetes", EntityType.DISEASE)
    assert diabetes.family and diabetes.section == "family_history"
    assert marked(text, "hives", EntityType.ADE).section == "allergy"


def test_drugs_take_a_section_but_no_assertion():
    drug = marked("No rash after amoxicillin.", "amoxicillin", EntityType.DRUG)
    assert drug.asserted and drug.section is None


def test_the_context_pipeline_does_not_import_every_spacy_plugin():
    """presidio's spaCy factory would import transformers' pipelines into the worker and
    every Triton instance."""
    probe = (
        "import sys; from models.context import _pipeline; _pipeline(); "
        "print('presidio_analyzer' in sys.modules)"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert found.stdout.strip() == "False", found.stderr[-2000:]


@pytest.mark.parametrize("plain_sentences", [0, 20], ids=["mostly findings", "few findings"])
def test_each_finding_is_read_in_its_own_sentences_and_its_sections_flags_are_kept(
    plain_sentences,
):
    """ConText reads the sentences that hold a finding (alone, where they are few); a mention
    across a sentence end is read in both, and the Sectionizer's flags join ConText's."""
    text = (
        "Seen today. Denies fever. Reports cough. Bad day; headache? No. "
        + "She came with her daughter. " * plain_sentences
        + "PAST MEDICAL HISTORY: Hypertension. Denies asthma."
    )
    mentions = ["fever", "cough", "day; headache", "Hypertension", "asthma"]
    entities = [
        Entity(type=EntityType.SYMPTOM, start=(s := text.index(m)), end=s + len(m), text=m,
               confidence=1.0)
        for m in mentions
    ]  # fmt: skip
    fever, cough, crossing, hypertension, asthma = mark_context(text, entities)
    assert fever.negated and not cough.negated and not crossing.negated
    assert asthma.negated and asthma.historical
    assert hypertension.historical and not hypertension.negated
    assert hypertension.section == "past_medical_history"
