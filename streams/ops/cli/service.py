"""Commands that run or steer the service: demo, up, worker, derive, schemas, retrain, rollback,
purge, signals."""

import signal
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from streams.ops.cli.common import configure_logging, console

commands = typer.Typer()


@commands.command()
def demo() -> None:
    """Distil a student if none exists, start everything, stream demo notes, print results."""
    from streams.ops.demo import run_demo

    configure_logging()
    if not run_demo(console):
        console.print("[red]some notes produced neither an Extraction nor a dead letter[/]")
        raise typer.Exit(1)


@commands.command()
def up(
    only: Annotated[
        list[str] | None,
        typer.Option(help="Start only these of: broker, triton, worker (repeatable)."),
    ] = None,
) -> None:
    """Start the broker, tritonserver and the Faust worker and keep them up (a service that
    dies is restarted with backoff); stop them on Ctrl-C or SIGTERM."""
    from streams.ops.runtime import SERVICES, EmbeddedRuntime

    configure_logging()
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
        runtime.supervise(running=lambda: True)  # until Ctrl-C or SIGTERM
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        runtime.stop()


@commands.command()
def worker() -> None:
    """Run the Faust extraction worker in the foreground (what `up` starts)."""
    from streams.app import run_worker

    run_worker()


@commands.command()
def derive() -> None:
    """Build the code indexes and the lexicon teacher's phrases into CLINSTREAM_CODES_CACHE_DIR
    where this installation has not yet (the image does at build, `up` before the worker starts),
    so that no worker imports the lexicon packages."""
    from models import codes
    from trainer.teachers import lexicon

    codes.load()
    lexicon.load()


@commands.command()
def schemas() -> None:
    """Regenerate the JSON Schemas of the messages under models/jsonschema/."""
    from models.messages import write_json_schemas

    for path in write_json_schemas():
        console.print(f"wrote {path}")


@commands.command()
def retrain() -> None:
    """Train a candidate on the stored teacher labels; promote it only if it is no worse."""
    from streams.ops.promotion import publish_decision
    from streams.ops.promotion import retrain as run_retrain
    from streams.settings import RetrainSettings, RuntimeSettings, TritonSettings

    configure_logging()
    decision = run_retrain(RetrainSettings(), TritonSettings(), RuntimeSettings(), publish_decision)
    console.print(decision.model_dump_json(indent=2))


@commands.command()
def rollback() -> None:
    """Retire the newest student version; Triton serves the previous one."""
    from streams.ops.promotion import publish_decision
    from streams.ops.promotion import rollback as run_rollback
    from streams.settings import RuntimeSettings, TritonSettings

    configure_logging()
    decision = run_rollback(TritonSettings(), RuntimeSettings(), publish_decision)
    console.print(decision.model_dump_json(indent=2))


@commands.command()
def purge(
    note_id: Annotated[str | None, typer.Option(help="Remove this note's rows.")] = None,
    patient_id: Annotated[str | None, typer.Option(help="Remove this patient's rows.")] = None,
) -> None:
    """Remove a note's or a patient's samples from the label store (a data-subject request).

    Notes already in Kafka topics age out with the topics' retention.
    """
    from streams.label_store import LabelStore
    from streams.settings import RetrainSettings, RuntimeSettings

    store = LabelStore(RuntimeSettings().label_store, RetrainSettings().retention_days)
    try:
        deleted = store.purge(note_id=note_id, patient_id=patient_id)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    console.print(f"removed {deleted} label-store row(s) from {store.path}")


class SignalSort(StrEnum):
    a = "a"
    prr = "prr"
    chi2 = "chi2"
    ror_lower = "ror_lower"
    ic025 = "ic025"


@commands.command()
def signals(
    sort: Annotated[SignalSort, typer.Option(help="Column to sort by, largest first.")] = (
        SignalSort.ic025
    ),
    every_pair: Annotated[
        bool, typer.Option("--all", help="Every pair, not only signals.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Rows printed (the CSV has all).")] = 50,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write them as CSV.")] = None,
) -> None:
    """The disproportionality table of every ADE case on the broker now, with the signals by
    the CLINSTREAM_SIGNALS_* criteria (the worker's own table, rebuilt the same way)."""
    import asyncio
    import csv

    from rich.table import Table

    from streams.settings import KafkaSettings, SignalSettings
    from streams.signals import current_table

    table = asyncio.run(current_table(KafkaSettings(), SignalSettings()))
    rows = [row for row in table.rows() if every_pair or row.signal]
    rows.sort(key=lambda row: getattr(row.statistics, sort) or float("-inf"), reverse=True)
    if csv_file is not None:
        with csv_file.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0].flat()) if rows else ["drug"])
            writer.writeheader()
            writer.writerows(row.flat() for row in rows)
    what = "pairs" if every_pair else "signals"
    criteria = " + ".join(table.settings.require)
    shown = Table(title=f"{len(rows)} {what}, {table.cases} cases ({table.basis}); {criteria}")
    for column in ("drug", "event", "a", "b", "c", "d", "PRR", "χ²", "ROR (95% CI)", "IC025"):
        shown.add_column(column)
    shown.add_column("signal")
    for row in rows[:limit]:
        stats = row.statistics
        shown.add_row(
            row.drug.display, row.event.display, *(str(x) for x in (stats.a, stats.b, stats.c,
            stats.d)), _number(stats.prr), _number(stats.chi2),
            f"{_number(stats.ror)} ({_number(stats.ror_lower)}-{_number(stats.ror_upper)})",
            _number(stats.ic025), "yes" if row.signal else "",
        )  # fmt: skip
    console.print(shown)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
