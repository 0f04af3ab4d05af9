"""Synthetic clinical notes for the demo: realistic in form, about no real patient.

Notes are built from templates with a seeded generator, so a seed always gives the same
corpus. The demo trains on one seed and streams notes from another. The student it trains also
meets what real notes hold besides clinical facts (invented names, ids, insurers, places in a
header; terse nursing notes dense with abbreviations), so it learns that none of it is an entity.
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


# Invented people and places for headers and narrative: what a note names that is not clinical.
_FIRST_NAMES = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
                "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph",
                "Jessica", "Thomas", "Sarah", "Carlos", "Maria", "Wei", "Mei", "Ahmed", "Fatima",
                "Raj", "Priya", "Olga", "Ivan", "Kwame", "Ama", "Hiroshi", "Yuki")  # fmt: skip
_LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
               "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas",
               "Taylor", "Moore", "Jackson", "Martin", "Lee", "Nguyen", "Chen", "Patel",
               "Kowalski", "O'Brien", "Murphy", "Cohen", "Okafor", "Tanaka", "Rossi")  # fmt: skip
_INSURERS = ("Anthem Blue Cross", "Cigna", "Aetna", "UnitedHealthcare", "Humana", "Medicare",
             "Medicaid", "Kaiser Permanente", "Blue Shield", "Tricare")  # fmt: skip
_PLACES = ("St. Mary's Hospital", "Riverside Medical Center", "Mercy General", "County Hospital",
           "Lakeview Nursing Home", "Springfield", "Oakland", "Boston", "Cedar Rapids")  # fmt: skip
_RELATIVES = ("wife", "husband", "daughter", "son", "sister", "brother", "niece")
# Abbreviation-dense nursing phrases with no drug, disease or symptom in them.
_NURSING = ("pt resting comfortably in bed", "bp stable", "hr 80s sr", "rr 18 unlabored",
            "o2 sat 97% on 2l nc", "ls clear bilaterally", "abg pending", "gu: foley draining",
            "uo 40-60 cc/hr", "neuro: a&o x3, mae", "perrl", "gi: abd soft, +bs", "npo after mn",
            "tf at goal", "oob to chair with assist", "dsg c/d/i", "iv site without redness",
            "afebrile, tmax 99.1", "hct stable", "k 4.1, mg 2.0", "cxr done this am",
            "weaned to cpap 5/peep 5", "fio2 40%", "sx for small amt secretions",
            "turned q2h", "skin intact", "cont to monitor", "plan: transfer to floor in am",
            "ccu team aware", "social work following", "will f/u with pm labs",
            "remains on vent, ac mode", "trach care done", "ett retaped", "cath lab in am",
            "pacer wires capped", "a-line and picc patent", "ngt to lcs", "commode x2",
            "urine clear yellow", "stool guaiac neg", "sputum sent", "lungs coarse at bases",
            "cardiac: nsr 70s", "resp: even, unlabored", "bowel sounds present", "ivf at kvo",
            "dialysis catheter site clean", "swan pulled", "wt up 1 kg", "i&o even",
            "hemodynamically stable", "carevue updated", "report given to night rn",
            "bed alarm on", "fall precautions", "diet advanced as tol",
            "ambulated in hall")  # fmt: skip
_NURSING_DRUGS = ("lasix 40 mg iv given", "heparin gtt at 900 units/hr", "insulin sliding scale",
                  "dopamine weaned off", "propofol gtt for sedation", "kcl 20 meq po given",
                  "vancomycin 1 g iv q12h", "morphine 2 mg iv prn",
                  "tylenol 650 mg po x1")  # fmt: skip


# Generic syllables (consonant-vowel, and common surname endings), not taken from any corpus.
_SYLLABLES = ("ka", "lo", "mi", "ne", "ra", "so", "tu", "vel", "dor", "man", "ber", "ton", "ley",
              "vic", "ez", "ini", "ard", "sch", "ov", "ski", "da", "ge", "hu", "ja", "po", "ri",
              "sa", "ti", "wa", "zo", "ell", "ston")  # fmt: skip
_TITLES = ("Dr.", "Dr", "Mr.", "Mrs.", "Ms.", "Miss", "dr.", "mr.")


def _surname(rng: random.Random) -> str:
    """A listed surname, or an invented one (as rare as most are): a student must learn the
    context of a name, not a list of them."""
    if rng.random() < 0.4:
        return rng.choice(_LAST_NAMES)
    return "".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))).capitalize()


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST_NAMES)} {_surname(rng)}"


def _place(rng: random.Random) -> str:
    name = rng.choice((_surname(rng), f"St. {rng.choice(_FIRST_NAMES)}'s", "Holy Name",
                       "Good Samaritan", rng.choice(_PLACES)))  # fmt: skip
    return f"{name} {rng.choice(('Hospital', 'Memorial', 'Medical Center', 'Rehab', 'Campus'))}"


def _people_sentence(rng: random.Random) -> str:
    """Who was there and where the patient goes: names, relatives, places; no clinical entity."""
    return rng.choice((
        f"{rng.choice(_TITLES)} {_surname(rng)} was seen with {rng.choice(_TITLES)} "
        f"{_surname(rng)}.",
        f"Plan discussed with {rng.choice(_RELATIVES)} {rng.choice(_FIRST_NAMES)} and "
        f"Dr. {_surname(rng)}.",
        f"Transferred from {_place(rng)} this morning.",
        f"{rng.choice(_FIRST_NAMES)} {_surname(rng)} ({rng.choice(_RELATIVES)}) called, updated.",
        f"Will go to {_place(rng)} when a bed is ready.",
        f"Drs. {_surname(rng)} and {_surname(rng)} aware.",
    ))  # fmt: skip


def _header(rng: random.Random) -> str:
    """What a note's header holds: names, ids, dates, an insurer, a place; no clinical entity."""
    lines = [
        f"Patient: {_person(rng)}   MRN: {rng.randint(10**7, 10**8 - 1)}   "
        f"DOB: {rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1930, 2000)}",
        f"Insurance: {rng.choice(_INSURERS)}   Member ID: {rng.choice('ABCXYZ')}"
        f"{rng.randint(10**8, 10**9 - 1)}",
        f"Attending: Dr. {_person(rng)}, MD   Location: {_place(rng)}",
        f"Phone: ({rng.randint(200, 999)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
    ]
    return "\n".join(rng.sample(lines, k=rng.randint(2, 4)))


def _nursing_note(rng: random.Random, index: int, prefix: str) -> "DemoNote":
    """A terse nursing note: abbreviations, drips and people, half of them in capitals."""
    phrases = rng.sample(_NURSING, k=rng.randint(5, 10))
    phrases += rng.sample(_NURSING_DRUGS, k=rng.randint(0, 2))
    phrases.append(f"{rng.choice(_RELATIVES)} {rng.choice(_FIRST_NAMES)} visited, updated")
    phrases.append(rng.choice((
        f"dr. {_surname(rng)} aware", f"seen by {_person(rng)}, np", f"d/w {_person(rng)} rn",
        f"family meeting with {_person(rng)} at {_place(rng)}", _people_sentence(rng),
    )))  # fmt: skip
    rng.shuffle(phrases)
    text = "; ".join(phrases) + "."
    return DemoNote(
        note_id=f"{prefix}-{index:04d}",
        note_type="nursing_note",
        text=text.upper() if rng.random() < 0.5 else text,
    )


def training_notes(count: int, seed: int, prefix: str = "train") -> list["DemoNote"]:
    """The demo student's corpus: `count` clinical notes, most under a header, and as many
    nursing notes."""
    rng = random.Random(seed)
    notes = demo_notes(count, seed, prefix)
    for note in notes:
        if rng.random() < 0.5:
            note.text = f"{note.text}\n{_people_sentence(rng)}"
        if rng.random() < 0.7:
            note.text = f"{_header(rng)}\n{note.text}"
    return notes + [_nursing_note(rng, i, f"{prefix}-nursing") for i in range(count)]


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
