"""`python -m streams.ops.cli`: how the worker starts a retrain in a child process."""

from streams.ops.cli import app

app()
