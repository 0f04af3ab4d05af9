"""PHI redaction before a note leaves for an external LLM.

Presidio's pattern recognizers (dates, phone numbers, SSNs) and clinical patterns of our own
(record numbers, names after a title, before a credential or after a relation, ages over 89,
institutions, street addresses), all offline. No NER model can be installed here, so a name
with no such cue is missed: recall per PHI type on PhysioNet deid gold is in the README.
Each span becomes a placeholder of its type ("[DATE]"); the teacher's answer is aligned to
the original note, so offsets are unaffected.
"""

import re

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    DateRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

# A name-like word (any case: many notes are all capitals or all lower case), and one that is
# capitalised (for a second word, where a lower-case word is more often not a name).
_WORD = r"[a-z][a-z'-]+"
_CAPITALISED = r"(?-i:[A-Z][A-Za-z'-]+)"
# Words that follow a relation or title but are no name ("wife called", "son is here").
_NOT_A_NAME = (
    r"(?!(?:is|was|were|are|has|had|called|came|visited|here|in|at|and|who|will|to|of|"
    r"present|aware|updated|notified|spoke|states|at bedside|by|with|for|on)\b)"
)
_RELATIONS = (
    r"wife|husband|son|daughter|dtr|sister|brother|mother|father|friend|niece|nephew|"
    r"grandson|granddaughter|grand daughter|aunt|uncle|cousin|partner|fiance|girlfriend|"
    r"boyfriend|companion|guardian|proxy|hcp"
)
_CREDENTIALS = r"rn|rrt|md|np|pa-?c?|lpn|rpt|msw|licsw|cna|crnp|do"

_CLINICAL_PATTERNS: dict[str, list[str]] = {
    "MEDICAL_RECORD_NUMBER": [
        r"\b(?:mrn|mr#|medical record(?: number| no\.?)?|unit no\.?|acct(?: no\.?)?)"
        r"\s*[:#]?\s*[a-z]{0,3}\d[\d-]{3,}"
    ],
    "PERSON": [
        rf"\b(?:dr|mr|mrs|ms|miss|prof|nurse|np|pa)\.?\s*{_NOT_A_NAME}{_WORD}"
        rf"(?:\s+{_CAPITALISED})?",
        rf"\b(?:[a-z]\.\s*)?{_WORD}(?:\s+[a-z]\.)?(?:\s+{_WORD})?,?\s+(?:{_CREDENTIALS})\b",
        rf"\b(?:{_RELATIONS})\b[,:]?\s*\(?{_NOT_A_NAME}{_WORD}(?:\s+{_CAPITALISED})?",
        rf"\b(?:patient|pt|name)\s*(?:name)?\s*:\s*{_WORD}(?:\s+{_WORD})?",
    ],
    "DATE_TIME": [r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b", r"\b(?:19|20)\d{2}\b"],
    "PHONE_NUMBER": [
        r"\b\d{3}[-.\s]\d{3}[-.\s]\d{4}\b",
        r"\b\d{3}-\d{4}\b",
        r"\b(?:pager|beeper|cell|tel|phone)\s*#?\s*:?\s*\d[\d-]{3,}",
    ],
    "AGE": [r"\b(?:9\d|1[01]\d)\s*(?:yo|y/o|y\.o\.|years?[- ]old|yr old)"],
    "LOCATION": [
        rf"\b{_WORD}(?:\s+{_WORD})?\s+(?:hospital|medical center|med center|house|rehab|"
        r"nursing home|clinic|manor)\b",
        rf"\b(?:lives|living|resides)\s+(?:in|at|with\s+\w+\s+in)\s+{_WORD}(?:\s+{_CAPITALISED})?",
        r"\b\d{1,5}\s+(?:[a-z]+\s+){1,3}(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|"
        r"ln|drive|court|ct|way|place|pl)\b\.?",
    ],
}


def _recognizers() -> list[EntityRecognizer]:
    return [
        DateRecognizer(),
        PhoneRecognizer(),
        UsSsnRecognizer(),
        *(
            PatternRecognizer(
                supported_entity=entity,
                name=f"clinstream {entity.lower()}",
                patterns=[Pattern(entity.lower(), regex, 0.5) for regex in regexes],
                global_regex_flags=re.IGNORECASE | re.MULTILINE,
            )
            for entity, regexes in _CLINICAL_PATTERNS.items()
        ),
    ]


class Redactor:
    """Finds PHI spans in a note and replaces them with placeholders of their type."""

    def __init__(self) -> None:
        self.recognizers = _recognizers()

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Merged PHI spans (start, end, type) in text order; overlaps join, the first type
        naming the joined span."""
        found = sorted(
            (result.start, result.end, result.entity_type)
            for recognizer in self.recognizers
            for result in recognizer.analyze(text, recognizer.supported_entities, None)
        )
        merged: list[tuple[int, int, str]] = []
        for start, end, entity_type in found:
            if merged and start < merged[-1][1]:
                last_start, last_end, last_type = merged[-1]
                merged[-1] = (last_start, max(last_end, end), last_type)
            else:
                merged.append((start, end, entity_type))
        return merged

    def redact(self, text: str) -> str:
        pieces, position = [], 0
        for start, end, entity_type in self.spans(text):
            pieces += [text[position:start], f"[{entity_type}]"]
            position = end
        return "".join([*pieces, text[position:]])
