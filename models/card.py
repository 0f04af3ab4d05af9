"""The card saved beside every exported student: what it needs to decode its own output."""

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from models.labels import LABELS
from models.settings import Precision

CARD_FILE = "student.json"
ONNX_FILE = "model.onnx"


class StudentCard(BaseModel):
    name: str
    backbone: str
    labels: tuple[str, ...] = LABELS
    max_length: int
    stride: int
    created_at: datetime
    teacher: str | None = None
    precision: Precision = Precision.FP32  # of model.onnx; students before it were all fp32
    # Shares of entity confidences per bin on held-out text: the drift reference.
    confidence_reference: list[float] | None = None
    # The sentence head's operating point, chosen on held-out teacher labels when it was
    # trained: an ADE mention is kept only in a sentence reporting an ADE with at least this
    # probability. None: a student without the head (trained before it), nothing gated.
    ade_sentence_threshold: float | None = None

    def save(self, directory: Path) -> None:
        (directory / CARD_FILE).write_text(self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> "StudentCard":
        path = directory / CARD_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: {directory} is not an exported student "
                "(make one with `clinstream demo` or the trainer)"
            )
        card = cls.model_validate_json(path.read_text())
        if card.labels != LABELS:
            raise ValueError(f"{directory} was trained on labels {card.labels}, not {LABELS}")
        return card
