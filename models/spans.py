"""What the student returns for one note: the contract between Triton and the stream."""

from typing import TypeVar

from pydantic import BaseModel, Field, model_validator

from models.labels import EntityType

Span = TypeVar("Span", bound=tuple)


class Code(BaseModel):
    """A concept an entity names, in a code system (FHIR's Coding: system URI, code, display)."""

    system: str
    code: str
    display: str | None = None


class Entity(BaseModel):
    """A mention at character offsets [start, end) of the original note."""

    type: EntityType
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    text: str
    confidence: float = Field(ge=0.0, le=1.0)
    negated: bool = Field(False, description="In the scope of a negation cue ('denies rash').")
    possible: bool = Field(
        False, description="Stated as possible or uncertain ('may cause', 'possible pneumonia')."
    )
    hypothetical: bool = Field(
        False, description="Stated as a condition or plan ('if rash develops, stop')."
    )
    historical: bool = Field(False, description="In the past ('history of stroke').")
    family: bool = Field(False, description="About a family member ('family history of MI').")
    section: str | None = Field(
        None,
        description="The note section it sits in, as medspaCy's sectionizer names it "
        "('family_history', 'allergy', 'past_medical_history'...); None where none is headed.",
    )
    codes: list[Code] = Field(
        default_factory=list,
        description="Concepts the mention names (DrugBank, HPO, UMLS); empty when unmatched.",
    )

    @classmethod
    def in_note(
        cls,
        text: str,
        start: int,
        end: int,
        entity_type: EntityType,
        confidence: float = 1.0,
        **fields: object,
    ) -> "Entity":
        """The mention at [start, end) of `text`, its text cut from the note so that the two
        can never disagree."""
        return cls(
            type=entity_type,
            start=start,
            end=end,
            text=text[start:end],
            confidence=confidence,
            **fields,
        )

    @property
    def asserted(self) -> bool:
        """Said to have happened to the patient: not negated, possible, hypothetical or
        a family member's. Only an asserted effect is an adverse event that happened."""
        return not (self.negated or self.possible or self.hypothetical or self.family)

    @model_validator(mode="after")
    def _ordered(self) -> "Entity":
        if self.end <= self.start:
            raise ValueError("end must be greater than start")
        return self


class AdePair(BaseModel):
    """A drug linked to an adverse effect it is said to have caused."""

    drug: Entity
    effect: Entity
    confidence: float = Field(ge=0.0, le=1.0)


def non_overlapping(ranked: list[Span]) -> list[Span]:
    """(start, end, ...) spans in order of preference -> those overlapping no earlier one."""
    taken: list[Span] = []
    for span in ranked:
        if all(span[1] <= other[0] or span[0] >= other[1] for other in taken):
            taken.append(span)
    return taken


class Annotations(BaseModel):
    """Entities and ADE pairs of one note, from the student, a teacher or gold."""

    entities: list[Entity]
    ade_pairs: list[AdePair]
