"""What every command shares: the consoles, the input options, logging, and chunked runs."""

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from trainer.corpora import CorpusFormat

console = Console()
# Progress goes to stderr, so `--json` output on stdout stays parseable.
progress_console = Console(stderr=True)

FormatOption = Annotated[CorpusFormat, typer.Option("--format", help="Format of the input.")]
NotesOption = Annotated[
    Path, typer.Option("--input", help="Notes: JSON Lines of {note_id, text}, or a corpus.")
]


def in_chunks(what: str, documents, label_batch, size: int = 32) -> list:
    """Run label_batch over documents in chunks, with a progress bar."""
    from rich.progress import track

    results = []
    chunks = range(0, len(documents), size)
    for start in track(chunks, description=what, console=progress_console):
        results += label_batch([d.text for d in documents[start : start + size]])
    return results


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Readiness probes poll; their per-request lines say nothing an operator needs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
