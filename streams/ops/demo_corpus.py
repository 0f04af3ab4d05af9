"""Synthetic clinical notes for the demo: realistic in form, about no real patient.

Notes are built from templates with a seeded generator, so a seed always gives the same
corpus. The demo trains on one seed and streams notes from another.
"""

import random

from pydantic import BaseModel

# (drug, adverse effects it is known for)
_DRUGS_WITH_EFFECTS: dict[str, tuple[str, ...]] = {
    "lisinopril": ("cough", "angioedema", "hyperkalemia", "dizziness"),
    "amoxicillin": ("rash", "diarrhea", "urticaria"),
    "metformin": ("diarrhea", "nausea", "lactic acidosis"),
    "atorvastatin": ("myalgia", "myopathy", "rhabdomyolysis"),
    "simvastatin": ("myalgia", "rhabdomyolysis"),
    "warfarin": ("hemorrhage", "hematuria", "epistaxis"),
    "apixaban": ("hemorrhage", "epistaxis"),
    "ibuprofen": ("gastrointestinal hemorrhage", "dyspepsia", "acute kidney injury"),
    "naproxen": ("dyspepsia", "edema"),
    "amlodipine": ("edema", "headache", "flushing"),
    "metoprolol": ("bradycardia", "fatigue", "hypotension"),
    "furosemide": ("hypokalemia", "hypotension", "dehydration"),
    "hydrochlorothiazide": ("hyponatremia", "hypokalemia"),
    "sertraline": ("nausea", "anxiety", "headache"),
    "ciprofloxacin": ("tendinitis", "diarrhea"),
    "prednisone": ("hyperglycemia", "edema"),
    "morphine": ("constipation", "nausea", "somnolence"),
    "oxycodone": ("constipation", "somnolence"),
    "gabapentin": ("dizziness", "somnolence"),
    "vancomycin": ("acute kidney injury", "rash"),
    "clopidogrel": ("hemorrhage", "rash"),
    "allopurinol": ("rash", "stevens-johnson syndrome"),
    "levothyroxine": ("tachycardia", "anxiety"),
    "insulin glargine": ("hypoglycemia",),
}
_DISEASES = (
    "hypertension",
    "type 2 diabetes mellitus",
    "atrial fibrillation",
    "coronary artery disease",
    "congestive heart failure",
    "chronic kidney disease",
    "asthma",
    "hypothyroidism",
    "hyperlipidemia",
    "osteoarthritis",
    "gout",
    "pneumonia",
    "urinary tract infection",
    "cellulitis",
    "major depressive disorder",
    "chronic obstructive pulmonary disease",
    "migraine",
    "deep vein thrombosis",
    "anemia",
    "sepsis",
)
_SYMPTOMS = (
    "chest pain",
    "shortness of breath",
    "fever",
    "fatigue",
    "nausea",
    "vomiting",
    "headache",
    "abdominal pain",
    "back pain",
    "dizziness",
    "constipation",
    "cough",
    "dyspnea",
    "syncope",
    "weight loss",
    "anorexia",
    "pruritus",
    "edema",
)
_AGES = range(24, 91)
_SEXES = (("male", "He", "his"), ("female", "She", "her"))
_DOSES = (
    "5 mg daily",
    "10 mg daily",
    "20 mg at bedtime",
    "500 mg twice daily",
    "40 mg daily",
    "25 mg daily",
    "1 g every 12 hours",
    "2.5 mg twice daily",
    "100 mg daily",
)


class DemoNote(BaseModel):
    note_id: str
    note_type: str
    text: str


def _ade_sentence(rng: random.Random, subject: str, possessive: str) -> str:
    drug, effects = rng.choice(list(_DRUGS_WITH_EFFECTS.items()))
    effect = rng.choice(effects)
    templates = (
        f"{subject} developed {effect} after starting {drug}.",
        f"{drug.capitalize()} was discontinued due to {effect}.",
        f"{subject} reports {effect} which {subject.lower()} attributes to {drug}.",
        f"Course complicated by {drug}-induced {effect}.",
        f"{drug.capitalize()} was stopped because of {effect}, likely an adverse reaction.",
        f"Of note, {possessive} {effect} began two weeks after initiation of {drug}.",
    )
    return rng.choice(templates)


def _note(rng: random.Random, index: int, prefix: str) -> DemoNote:
    age = rng.choice(_AGES)
    sex, subject, possessive = rng.choice(_SEXES)
    history = rng.sample(_DISEASES, k=rng.randint(1, 3))
    complaints = rng.sample(_SYMPTOMS, k=rng.randint(1, 3))
    medications = rng.sample(sorted(_DRUGS_WITH_EFFECTS), k=rng.randint(2, 4))
    denied = rng.choice([s for s in _SYMPTOMS if s not in complaints])
    assessment = rng.choice(_DISEASES)

    lines = [
        f"CHIEF COMPLAINT: {complaints[0].capitalize()}.",
        f"HISTORY OF PRESENT ILLNESS: {age}-year-old {sex} with a history of "
        f"{', '.join(history)} presents with {' and '.join(complaints)}. "
        f"{subject} denies {denied}.",
        _ade_sentence(rng, subject, possessive),
        "MEDICATIONS: " + "; ".join(f"{m} {rng.choice(_DOSES)}" for m in medications) + ".",
        f"ASSESSMENT AND PLAN: Likely {assessment}. Continue {medications[0]} and monitor "
        f"for {rng.choice(_SYMPTOMS)}.",
    ]
    if rng.random() < 0.5:
        lines.insert(3, _ade_sentence(rng, subject, possessive))
    # What a note says without it having happened to the patient: a warning, a relative's.
    if rng.random() < 0.5:
        drug, effects = rng.choice(list(_DRUGS_WITH_EFFECTS.items()))
        lines.append(f"Counselled that {drug} may cause {rng.choice(effects)}.")
    if rng.random() < 0.5:
        relative = rng.choice(("Mother", "Father", "Sister", "Brother"))
        lines.append(f"FAMILY HISTORY: {relative} with {rng.choice(_DISEASES)}.")
    note_type = rng.choice(("progress_note", "discharge_summary", "consult_note", "h_and_p"))
    return DemoNote(note_id=f"{prefix}-{index:04d}", note_type=note_type, text="\n".join(lines))


def demo_notes(count: int, seed: int, prefix: str = "demo") -> list[DemoNote]:
    rng = random.Random(seed)
    return [_note(rng, index, prefix) for index in range(count)]


def long_demo_note(seed: int, sections: int = 12) -> DemoNote:
    """A note many windows long, to show that nothing past the first window is dropped."""
    parts = demo_notes(sections, seed, prefix="long")
    return DemoNote(
        note_id=f"long-{seed:04d}",
        note_type="discharge_summary",
        text="\n\n".join(part.text for part in parts),
    )
