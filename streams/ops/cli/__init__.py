"""The `clinstream` command: what an operator runs, one module per kind of job."""

import os

import typer

from streams.ops.cli import batch, bench, service

app = typer.Typer(help="Streaming clinical fact extraction with a distilled student.")


@app.callback()
def private_files() -> None:
    """Notes (PHI) can reach any file clinstream writes (label store, LLM cache, logs, runs):
    every file and folder it creates is private to its user."""
    os.umask(0o077)


for module in (service, batch):
    for command in module.commands.registered_commands:
        app.registered_commands.append(command)
app.add_typer(bench.commands, name="bench")
