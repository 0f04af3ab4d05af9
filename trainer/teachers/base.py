"""What every teacher offers: a name, a version, and labels for a batch of texts."""

from typing import Protocol

from models.spans import Annotations


class Teacher(Protocol):
    name: str

    @property
    def version(self) -> str:
        """Changes whenever the same text could be labelled differently."""
        ...

    def label_batch(self, texts: list[str]) -> list[Annotations]: ...
