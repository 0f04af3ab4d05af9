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

import numpy as np
import spacy
from medspacy.context import ConTextRule
from spacy.attrs import IDX, SENT_START
from spacy.language import Language
from spacy.tokens import Doc, Span

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
    doc = nlp.get_pipe("medspacy_sectionizer")(doc)
    findings = {i: span for i, (entity, span) in enumerate(zip(entities, spans, strict=True))
                if span is not None and entity.type != EntityType.DRUG}  # fmt: skip
    said = _read_context(nlp, doc, findings)
    marked = []
    for i, (entity, span) in enumerate(zip(entities, spans, strict=True)):
        if span is None:  # offsets inside whitespace only: nothing to read
            marked.append(entity)
            continue
        section = span._.section_category
        # The Sectionizer marks a section's findings too (a Past Medical History's are
        # historical): either reading sets a flag.
        flags = said.get(i, set()) | {n for n in _ASSERTIONS.values() if getattr(span._, n)}
        if section in _FAMILY_SECTIONS:
            flags.add("is_family")
        finding = entity.type != EntityType.DRUG
        marked.append(
            entity.model_copy(
                update={field: finding and name in flags for field, name in _ASSERTIONS.items()}
                | {"section": section}
            )
        )
    return marked


# Entity field -> the span attribute ConText and the Sectionizer set.
_ASSERTIONS = {
    "negated": "is_negated",
    "possible": "is_uncertain",
    "hypothetical": "is_hypothetical",
    "historical": "is_historical",
    "family": "is_family",
}


# Copying a note's sentences costs about what ConText's matching over them saves: past this
# share of the note's tokens, ConText reads the whole note instead. CPU on 200 MTSamples notes:
# the demo student's 60 mentions a note, 2.2 s whole against 2.7 s in pieces; the lexicon
# teacher's 14 a note, 1.3 s in pieces against 1.6-1.8 s whole.
_COPY_AT_MOST = 0.5


def _read_context(nlp: Language, doc: Doc, findings: dict[int, Span]) -> dict[int, set[str]]:
    """The ConText attributes set on each finding, read in the sentences that hold one where
    they are a small part of the note: a modifier's scope ends at its sentence, and matching
    ConText's rules over every sentence was most of this module's time."""
    context = nlp.get_pipe("medspacy_context")
    runs = _sentence_runs(findings)
    if sum(end - start for start, end, _ in runs) > len(doc) * _COPY_AT_MOST:
        runs = [(0, len(doc), findings)]
    read = {}
    for start, end, group in runs:
        part = doc if end - start == len(doc) else doc[start:end].as_doc()
        part.spans[_SPAN_GROUP] = [Span(part, s.start - start, s.end - start, label=s.label)
                                   for s in group.values()]  # fmt: skip
        for i, marked in zip(group, context(part).spans[_SPAN_GROUP], strict=True):
            read[i] = {name for name in _ASSERTIONS.values() if getattr(marked._, name)}
    return read


def _sentence_runs(spans: dict[int, Span]) -> list[tuple[int, int, dict[int, Span]]]:
    """The spans grouped by the run of whole sentences (token start, end) they sit in."""
    runs: list[tuple[int, int, dict[int, Span]]] = []
    for i, span in sorted(spans.items(), key=lambda item: item[1].start):
        start, end = span[0].sent.start, span[-1].sent.end
        if runs and start < runs[-1][1]:
            run_start, run_end, group = runs[-1]
            runs[-1] = (run_start, max(run_end, end), group | {i: span})
        else:
            runs.append((start, end, {i: span}))
    return runs


def _set_sentences(doc: Doc, starts: list[int]) -> None:
    """Each token starts a sentence where a sentence start lies between it and the last one."""
    before = np.searchsorted(starts, doc.to_array(IDX), side="right")
    opens = np.diff(before, prepend=0) > 0
    opens[:1] = True
    doc.from_array([SENT_START], np.where(opens, 1, -1).astype(np.uint64).reshape(-1, 1))
