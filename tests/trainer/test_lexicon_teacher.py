from models.labels import EntityType


def mentions(annotations):
    return [(e.type, e.text) for e in annotations.entities]


def test_finds_drugs_diseases_and_symptoms_at_exact_offsets(teacher):
    text = "History of atrial fibrillation on warfarin. Today reports nausea and chest pain."
    annotations = teacher.label(text)
    assert mentions(annotations) == [
        (EntityType.DISEASE, "atrial fibrillation"),
        (EntityType.DRUG, "warfarin"),
        (EntityType.SYMPTOM, "nausea"),
        (EntityType.SYMPTOM, "chest pain"),
    ]
    assert all(text[e.start : e.end] == e.text for e in annotations.entities)
    assert annotations.ade_pairs == []


def test_phenotypes_only_hpo_names_are_symptoms(teacher):
    # Neither phrase is in the MeSH disease lexicon; both are HPO phenotypic abnormalities.
    annotations = teacher.label("Chest film: widened mediastinum, mediastinal lymphadenopathy.")
    assert mentions(annotations) == [
        (EntityType.SYMPTOM, "widened mediastinum"),
        (EntityType.SYMPTOM, "mediastinal lymphadenopathy"),
    ]


def test_causal_cue_makes_an_adverse_effect_paired_with_its_drug(teacher):
    annotations = teacher.label("Lisinopril was discontinued due to angioedema.")
    assert mentions(annotations) == [
        (EntityType.DRUG, "Lisinopril"),
        (EntityType.ADE, "angioedema"),
    ]
    (pair,) = annotations.ade_pairs
    assert (pair.drug.text, pair.effect.text) == ("Lisinopril", "angioedema")


def test_indication_after_for_is_not_an_adverse_effect(teacher):
    annotations = teacher.label("She developed a rash after starting amoxicillin for pneumonia.")
    assert mentions(annotations) == [
        (EntityType.ADE, "rash"),
        (EntityType.DRUG, "amoxicillin"),
        (EntityType.DISEASE, "pneumonia"),
    ]


def test_negated_effect_is_marked_and_not_paired(teacher):
    annotations = teacher.label("No rash after starting amoxicillin. Denies nausea.")
    negated = {e.text: e.negated for e in annotations.entities}
    assert negated == {"rash": True, "amoxicillin": False, "nausea": True}
    assert annotations.ade_pairs == []
