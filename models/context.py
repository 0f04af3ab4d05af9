"""What a note says about each finding: negated, possible, hypothetical, historical, or about a
family member, and the section it sits in, by medspaCy's ConText and Sectionizer.

One pass for the teacher and the student (both end in models.decoding.annotate), so an
assertion means the same from both. As in NegEx, only findings (diseases, symptoms, adverse
effects) take an assertion: in "no rash after amoxicillin" the drug was still given; every
mention gets its section. Sentences are models.sentences', the splitter pairing uses too (not
medspaCy's PyRuSH, which logs the tokens it reads). ConText's rules are its defaults plus ours
in `context_rules.json` (rules are data); a "Family History" section makes a finding the
family's.
"""

import threading
import warnings
from pathlib import Path

import spacy
from medspacy.context import ConTextRule
from spacy.language import Language
from spacy.tokens import Doc

from models.labels import EntityType
from models.sentences import sentence_starts
from models.spans import Entity

_RULES = Path(__file__).with_name("context_rules.json")
_SPAN_GROUP = "clinstream"
_FAMILY_SECTIONS = {"family_history"}
_local = threading.local()  # a pipeline per thread: the teacher loop labels in threads
# medspaCy's components keep matchers they may leave empty (ours has no regex rules).
warnings.filterwarnings("ignore", message=r"\[W036\]")
# A spaCy pipeline imports every package's spaCy factories as it starts: presidio's pulls in
# transformers' pipelines, 114 MiB and 2.5 s of CPU in the worker and each Triton instance, for a
# factory never used here (medspaCy's register on import).
spacy.util.registry._entry_point_factories.entry_points = False


def _pipeline() -> Language:
    if not hasattr(_local, "nlp"):
        nlp = spacy.blank("en")
        # ConText's default FAMILY rule fires on any relative in the sentence ("discussed with
        # the mother", "family denies trauma"): on MTSamples notes it was right for 47% of the
        # findings it marked. Ours ("family history") and the Family History section replace it.
        defaults = spacy.blank("en").add_pipe("medspacy_context").rules
        context = nlp.add_pipe(
            "medspacy_context",
            config={"input_span_type": "group", "span_group_name": _SPAN_GROUP, "rules": None},
        )
        context.add([rule for rule in defaults if rule.category != "FAMILY"])
        context.add(ConTextRule.from_json(_RULES))
        nlp.add_pipe(
            "medspacy_sectionizer",
            config={"input_span_type": "group", "span_group_name": _SPAN_GROUP},
        )
        _local.nlp = nlp
    return _local.nlp


def mark_context(text: str, entities: list[Entity]) -> list[Entity]:
    """Entities with their assertion and section set from the note's wording."""
    if not entities:
        return entities
    nlp = _pipeline()
    doc = nlp.make_doc(text)
    _set_sentences(doc, sentence_starts(text))
    spans = [doc.char_span(e.start, e.end, label=e.type.value, alignment_mode="expand")
             for e in entities]  # fmt: skip
    doc.spans[_SPAN_GROUP] = [span for span in spans if span is not None]
    for _name, component in nlp.pipeline:
        doc = component(doc)
    marked = []
    for entity, span in zip(entities, spans, strict=True):
        if span is None:  # offsets inside whitespace only: nothing to read
            marked.append(entity)
            continue
        section = span._.section_category
        finding = entity.type != EntityType.DRUG
        marked.append(
            entity.model_copy(
                update={
                    "negated": finding and span._.is_negated,
                    "possible": finding and span._.is_uncertain,
                    "hypothetical": finding and span._.is_hypothetical,
                    "historical": finding and span._.is_historical,
                    "family": finding and (span._.is_family or section in _FAMILY_SECTIONS),
                    "section": section,
                }
            )
        )
    return marked


def _set_sentences(doc: Doc, starts: list[int]) -> None:
    """Each token starts a sentence where a sentence start lies between it and the last one."""
    next_start = 1
    for token in doc:
        if token.i == 0:
            token.is_sent_start = True
            continue
        starts_here = False
        while next_start < len(starts) and starts[next_start] <= token.idx:
            starts_here = True
            next_start += 1
        token.is_sent_start = starts_here
