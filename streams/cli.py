"""The `clinstream` command."""

import logging
import signal
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Streaming clinical fact extraction with a distilled student.")
console = Console()


@app.command()
def demo() -> None:
    """Distil a student if none exists, start everything, stream demo notes, print results."""
    from streams.demo import run_demo

    _configure_logging()
    if not run_demo(console):
        console.print("[red]some notes produced neither an Extraction nor a dead letter[/]")
        raise typer.Exit(1)


@app.command()
def up(
    only: Annotated[
        list[str] | None,
        typer.Option(help="Start only these of: broker, triton, worker (repeatable)."),
    ] = None,
) -> None:
    """Start the broker, tritonserver and the Faust worker; stop them on Ctrl-C or SIGTERM."""
    from streams.runtime import SERVICES, EmbeddedRuntime

    _configure_logging()
    runtime = EmbeddedRuntime(only=tuple(only) if only else SERVICES)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        runtime.start()
        console.print(
            f"clinstream is up ({', '.join(runtime.only)}): broker {runtime.kafka.bootstrap}, "
            f"Triton {runtime.triton.grpc_url}, worker metrics on "
            f":{runtime.worker.metrics_port}. Logs in {runtime.runtime.log_dir}. Ctrl-C to stop."
        )
        signal.pause()
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        runtime.stop()


@app.command()
def worker() -> None:
    """Run the Faust extraction worker in the foreground (what `up` starts)."""
    from streams.app import run_worker

    run_worker()


@app.command()
def schemas() -> None:
    """Regenerate the JSON Schemas of the messages under streams/jsonschema/."""
    from streams.schemas import write_json_schemas

    for path in write_json_schemas():
        console.print(f"wrote {path}")


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Readiness probes poll; their per-request lines say nothing an operator needs.
    logging.getLogger("httpx").setLevel(logging.WARNING)


if __name__ == "__main__":
    app()
