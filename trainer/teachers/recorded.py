"""Recorded answers of a real LLM, replayed exactly where a live one would answer.

`../shared/corpora/ade_llm/` holds what gpt-4.1-nano answered, under several prompts, for
every ADE Corpus sentence: spans with offsets, one list per prompt. This teacher returns them
for the texts it has (one prompt, or several combined by voting), annotated like any teacher's
answer (negation, drug→effect pairing), so labels, training, evaluation and benchmarks treat
recorded and live LLM labels alike. A text with no recorded answer is an error: a recording
cannot answer what it never saw.
"""

import json
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.decoding import annotate, without_drugless_ade
from models.spans import Annotations
from trainer.combine import vote
from trainer.corpora import span_entity
from trainer.label_model import LabelModel, fit_label_model


class RecordedSettings(BaseSettings):
    """Which recording to replay (CLINSTREAM_RECORDED_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_RECORDED_")

    answers: Path = Field(
        Path(__file__).resolve().parents[3] / "shared" / "corpora" / "ade_llm" / "train.jsonl",
        description="JSON Lines with `text` and `llm: {prompt: [{start, end, type}]}`.",
    )
    prompts: list[str] = Field(["gpt41nano_direct"], min_length=1)
    min_votes: int | None = Field(
        None, ge=1, description="With several prompts: votes a span needs; unset: a majority."
    )
    combine: Literal["vote", "label_model"] = Field(
        "vote",
        description="With several prompts: a vote, or a label model fitted on the recording's "
        "answers (no gold) that weights each prompt by its learned reliability.",
    )


class RecordedTeacherError(KeyError):
    """A text the recording has no answer for; the message never quotes it."""


class RecordedTeacher:
    name = "recorded"

    def __init__(
        self,
        settings: RecordedSettings | None = None,
        label_model: LabelModel | None = None,
        ade_needs_drug: bool = False,
    ) -> None:
        """`label_model`: one fitted on another recording (train's, to label dev with).
        `ade_needs_drug`: each prompt's ADE mentions count only where it names a drug, before
        the prompts are combined, as `clinstream train` keeps a teacher's labels."""
        self.settings = settings or RecordedSettings()
        self.ade_needs_drug = ade_needs_drug
        if not self.settings.answers.is_file():
            raise FileNotFoundError(
                f"{self.settings.answers} not found: set CLINSTREAM_RECORDED_ANSWERS"
            )
        self.answers: dict[str, dict[str, list[dict]]] = {}
        with self.settings.answers.open() as lines:
            for line in lines:
                record = json.loads(line)
                self.answers[record["text"]] = record["llm"]
        known = set().union(*(answers.keys() for answers in self.answers.values()))
        missing = [prompt for prompt in self.settings.prompts if prompt not in known]
        if missing:
            raise ValueError(f"prompts {missing} are not in the recording; it has {sorted(known)}")
        prompts = len(self.settings.prompts)
        self.min_votes = self.settings.min_votes or prompts // 2 + 1
        self.label_model = label_model
        if self.settings.combine == "label_model" and prompts > 1 and label_model is None:
            texts = list(self.answers)
            self.label_model = fit_label_model(texts, [self.readings(t) for t in texts])

    @property
    def version(self) -> str:
        prompts = self.settings.prompts
        votes = f"@{self.min_votes}of{len(prompts)}" if len(prompts) > 1 else ""
        if self.label_model is not None:
            votes = "@label-model"
        return f"{'+'.join(prompts)}{votes}:{self.settings.answers.name}"

    def label_batch(self, texts: list[str]) -> list[Annotations]:
        return [self._label(text) for text in texts]

    def readings(self, text: str) -> list[Annotations]:
        """Each prompt's own answer for `text`, before voting (for soft targets)."""
        recorded = self.answers.get(text)
        if recorded is None:
            raise RecordedTeacherError(
                f"no recorded answer for a text of {len(text)} characters in "
                f"{self.settings.answers.name}"
            )
        readings = [
            annotate(text, [span_entity(text, span) for span in recorded.get(prompt, [])])
            for prompt in self.settings.prompts
        ]
        return [without_drugless_ade(r) for r in readings] if self.ade_needs_drug else readings

    def _label(self, text: str) -> Annotations:
        readings = self.readings(text)
        if len(readings) == 1:
            return readings[0]
        if self.label_model is not None:
            return self.label_model.label(text, readings)
        return vote(text, readings, self.min_votes)
