"""The `clinstream` command."""

import logging
import os
import signal
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from models.settings import Precision
from trainer.corpora import CorpusFormat
from trainer.teachers import TeacherName

app = typer.Typer(help="Streaming clinical fact extraction with a distilled student.")
console = Console()
# Progress goes to stderr, so `--json` output on stdout stays parseable.
progress_console = Console(stderr=True)


@app.callback()
def private_files() -> None:
    """Notes (PHI) can reach any file clinstream writes (label store, LLM cache, logs, runs):
    every file and folder it creates is private to its user."""
    os.umask(0o077)


FormatOption = Annotated[CorpusFormat, typer.Option("--format", help="Format of the input.")]


class BenchSuite(StrEnum):
    LEXICON = "lexicon"
    LLM = "llm"
    ALL = "all"


NotesOption = Annotated[
    Path, typer.Option("--input", help="Notes: JSON Lines of {note_id, text}, or a corpus.")
]


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
    """Regenerate the JSON Schemas of the messages under models/jsonschema/."""
    from models.messages import write_json_schemas

    for path in write_json_schemas():
        console.print(f"wrote {path}")


@app.command()
def label(
    teacher: Annotated[TeacherName, typer.Option(help="Which teacher labels the notes.")],
    notes: NotesOption,
    output: Annotated[Path, typer.Option(help="Labels: JSON Lines of Extraction, with text.")],
    corpus_format: FormatOption = CorpusFormat.JSONL,
) -> None:
    """Label notes with a teacher, for distillation."""
    from trainer.batch import read_documents, write_extractions
    from trainer.teachers import make_teacher

    documents = read_documents(notes, corpus_format)
    chosen = make_teacher(teacher)
    annotations = _in_chunks(f"{chosen.name} labelling", documents, chosen.label_batch)
    write_extractions(output, documents, annotations, chosen.name, chosen.version, with_text=True)
    console.print(f"labelled {len(documents)} notes with {chosen.version} into {output}")
    usage = getattr(chosen, "usage", None)
    if usage is not None:
        console.print(f"LLM usage: {usage.model_dump_json()}")


@app.command()
def train(
    output: Annotated[Path, typer.Option(help="Run folder to write.")],
    labels: Annotated[
        list[Path] | None,
        typer.Option(help="Teacher labels (`clinstream label`); repeat for several teachers."),
    ] = None,
    min_votes: Annotated[
        int | None,
        typer.Option(help="With several --labels: teachers a span needs; unset: a majority."),
    ] = None,
    gold: Annotated[
        Path | None, typer.Option(help="Gold corpus: the supervised reference.")
    ] = None,
    corpus_format: FormatOption = CorpusFormat.JSONL,
    dev: Annotated[Path | None, typer.Option(help="Dev set for early stopping.")] = None,
    dev_format: Annotated[CorpusFormat | None, typer.Option(help="Format of --dev.")] = None,
) -> None:
    """Train a student from teacher labels or gold; writes weights, tokenizer, ONNX, metrics."""
    from trainer.batch import read_documents, read_votes
    from trainer.evaluate import OUR_TYPES, SCORED_TYPES
    from trainer.train import distil_student, train_student

    if (not labels) == (gold is None):
        raise typer.BadParameter("give --labels (one or more) or --gold")
    documents = read_votes(labels, min_votes) if labels else read_documents(gold, corpus_format)
    source = "gold" if gold else "teacher labels"
    dev_documents = None
    dev_types = OUR_TYPES
    if dev is not None:
        dev_format = dev_format or corpus_format
        dev_documents = read_documents(dev, dev_format)
        dev_types = SCORED_TYPES.get(dev_format, OUR_TYPES)
    fit = distil_student if labels else train_student
    metrics = fit(documents, output, source, dev=dev_documents, dev_types=dev_types)
    console.print(
        f"trained on {metrics.train_documents} documents ({metrics.train_windows} windows) in "
        f"{metrics.train_seconds:.0f}s on {metrics.device}; best epoch {metrics.best_epoch}; "
        f"run folder {output}"
    )


@app.command("learn-pairs")
def learn_pairs(
    model: Annotated[Path, typer.Option(help="Run folder of the student that will pair with it.")],
    data: Annotated[
        list[Path], typer.Option(help="Labelled texts with real pairs (PHEE gold or LLM-written).")
    ],
    corpus_format: FormatOption = CorpusFormat.PHEE,
    dev: Annotated[
        Path | None, typer.Option(help="Gold with pairs: score pairing on its gold mentions.")
    ] = None,
    dev_format: Annotated[CorpusFormat | None, typer.Option(help="Format of --dev.")] = None,
) -> None:
    """Learn drug→ADE pairing from data with pairs; the student's folder keeps it (pairing.json)."""
    from models.card import StudentCard
    from trainer.batch import read_documents
    from trainer.evaluate import OUR_TYPES, SCORED_TYPES
    from trainer.pairs import fit_pair_model, pair_examples, pairing_on_gold_mentions

    StudentCard.load(model)  # a clear error where the folder is no student
    documents = [d for path in data for d in read_documents(path, corpus_format)]
    pair_model = fit_pair_model(documents, trained_on=", ".join(path.name for path in data))
    _, paired = pair_examples(documents)
    path = pair_model.save(model)
    console.print(
        f"learned pairing from {len(paired)} candidates ({sum(paired)} paired) in "
        f"{len(documents)} texts into {path}"
    )
    if dev is not None:
        dev_format = dev_format or corpus_format
        scores = pairing_on_gold_mentions(
            read_documents(dev, dev_format),
            {"nearest drug": None, "learned": pair_model},
            SCORED_TYPES.get(dev_format, OUR_TYPES),
        )
        table = Table(title=f"ADE pairs on the gold mentions of {dev.name}")
        for column in ("pairing", "P", "R", "F1", "support"):
            table.add_column(column)
        for name, score in scores.items():
            table.add_row(name, f"{score.p:.3f}", f"{score.r:.3f}", f"{score.f1:.3f}",
                          str(score.support))  # fmt: skip
        console.print(table)


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run folder of `clinstream train`.")],
    repository: Annotated[Path | None, typer.Option(help="Triton model repository.")] = None,
    precision: Annotated[
        Precision | None,
        typer.Option(help="int8: quantise an fp32 run on the way (default: as the run is)."),
    ] = None,
) -> None:
    """Publish a run as the next version of the Triton model `student`."""
    from streams.settings import TritonSettings
    from trainer.versions import publish_version

    repository = repository or TritonSettings().model_repository
    try:
        version = publish_version(run_dir, repository, precision)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    console.print(f"published {run_dir} as {repository}/student/{version}")


@app.command()
def extract(
    model: Annotated[Path, typer.Option(help="A run folder or a student version folder.")],
    notes: NotesOption,
    output: Annotated[Path, typer.Option(help="JSON Lines of Extraction.")],
    corpus_format: FormatOption = CorpusFormat.JSONL,
) -> None:
    """Run the student over stored notes or messages (backfills), by the same code as the
    Triton model and the worker: the same decoding, the same codes on every entity."""
    from models.codes import with_codes
    from models.onnx_student import OnnxStudent
    from trainer.batch import read_documents, write_extractions

    documents = read_documents(notes, corpus_format)
    student = OnnxStudent(model)
    annotations = [
        with_codes(found) for found in _in_chunks("extracting", documents, student.extract)
    ]
    write_extractions(
        output, documents, annotations, student.card.name, student.card.name, with_text=False
    )
    console.print(f"extracted {len(documents)} notes into {output}")


@app.command("codes-dictionary")
def codes_dictionary(
    gold: Annotated[Path, typer.Option(help="A corpus whose gold carries codes (a train split).")],
    output: Annotated[
        Path, typer.Option(help="Dictionary to write, for CLINSTREAM_CODES_DICTIONARY.")
    ],
    corpus_format: FormatOption = CorpusFormat.BC5CDR,
) -> None:
    """Build a site dictionary of mention -> codes from coded gold, looked up before the
    packaged lexicons."""
    from trainer.batch import read_documents
    from trainer.code_dictionary import build_dictionary, write_dictionary

    entries = build_dictionary(read_documents(gold, corpus_format))
    write_dictionary(entries, output)
    console.print(f"wrote {len(entries)} entries to {output}")


@app.command()
def evaluate(
    gold: Annotated[Path, typer.Option(help="Gold corpus.")],
    corpus_format: FormatOption = CorpusFormat.JSONL,
    model: Annotated[Path | None, typer.Option(help="Score this run folder.")] = None,
    triton: Annotated[bool, typer.Option(help="Score the version Triton serves.")] = False,
    teacher: Annotated[TeacherName | None, typer.Option(help="Score this teacher.")] = None,
    predictions: Annotated[Path | None, typer.Option(help="Score this Extraction file.")] = None,
    annotated_only: Annotated[
        bool,
        typer.Option(
            help="Score only texts whose gold has a mention: how the literature scores ADE "
            "Corpus, which annotates drugs only where they take part in a relation."
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Entity P/R/F1 per type (strict and lenient) and ADE pair F1 against gold."""
    from trainer.batch import align_predictions, read_documents, read_extractions
    from trainer.evaluate import OUR_TYPES, SCORED_TYPES
    from trainer.evaluate import evaluate as score

    chosen = [x for x in (model, teacher, predictions) if x is not None] + ([1] if triton else [])
    if len(chosen) != 1:
        raise typer.BadParameter("give exactly one of --model, --triton, --teacher, --predictions")
    documents = read_documents(gold, corpus_format)
    if any(d.labels is None for d in documents):
        raise typer.BadParameter(f"{gold} has no gold labels in format {corpus_format.value}")
    if annotated_only:
        documents = [d for d in documents if d.labels.entities]
    texts = [d.text for d in documents]
    if model is not None:
        from models.onnx_student import OnnxStudent

        predicted = _in_chunks("student", documents, OnnxStudent(model).extract)
    elif triton:
        predicted = _triton_predictions(texts)
    elif teacher is not None:
        from trainer.teachers import make_teacher

        predicted = _in_chunks(teacher.value, documents, make_teacher(teacher).label_batch)
    else:
        predicted = align_predictions(documents, read_extractions(predictions))
    if any(e.codes for d in documents for e in d.labels.entities):
        from models.codes import with_codes

        predicted = [with_codes(found) for found in predicted]  # as the worker codes them
    report = score(
        [d.labels for d in documents], predicted, SCORED_TYPES.get(corpus_format, OUR_TYPES)
    )
    if json_output:
        print(report.model_dump_json(indent=2))
        return
    table = Table(title=f"{gold.name}: {report.documents} documents")
    for column in ("type", "strict P", "strict R", "strict F1", "lenient F1", "support"):
        table.add_column(column)
    for label, strict in report.strict.items():
        lenient = report.lenient[label]
        table.add_row(label, f"{strict.p:.3f}", f"{strict.r:.3f}", f"{strict.f1:.3f}",
                      f"{lenient.f1:.3f}", str(strict.support))  # fmt: skip
    pairs = report.ade_pairs
    table.add_row("ADE pairs", f"{pairs.p:.3f}", f"{pairs.r:.3f}", f"{pairs.f1:.3f}", "",
                  str(pairs.support))  # fmt: skip
    console.print(table)
    for label, coded in report.normalisation.items():
        console.print(f"codes, {label}: {coded.correct}/{coded.mentions} exactly found mentions "
                      f"got the gold code first ({coded.accuracy:.3f})")  # fmt: skip


@app.command()
def retrain() -> None:
    """Train a candidate on the stored teacher labels; promote it only if it is no worse."""
    from streams.retrain import retrain as run_retrain
    from streams.settings import LoopSettings, RuntimeSettings, TritonSettings

    _configure_logging()
    decision = run_retrain(LoopSettings(), TritonSettings(), RuntimeSettings(), _publish_decision)
    console.print(decision.model_dump_json(indent=2))


@app.command()
def rollback() -> None:
    """Retire the newest student version; Triton serves the previous one."""
    from streams.retrain import rollback as run_rollback
    from streams.settings import RuntimeSettings, TritonSettings

    _configure_logging()
    decision = run_rollback(TritonSettings(), RuntimeSettings(), _publish_decision)
    console.print(decision.model_dump_json(indent=2))


@app.command()
def purge(
    note_id: Annotated[str | None, typer.Option(help="Remove this note's rows.")] = None,
    patient_id: Annotated[str | None, typer.Option(help="Remove this patient's rows.")] = None,
) -> None:
    """Remove a note's or a patient's samples from the label store (a data-subject request).

    Notes already in Kafka topics age out with the topics' retention.
    """
    from streams.label_store import LabelStore
    from streams.settings import LoopSettings, RuntimeSettings

    store = LabelStore(RuntimeSettings().label_store, LoopSettings().retention_days)
    try:
        deleted = store.purge(note_id=note_id, patient_id=patient_id)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    console.print(f"removed {deleted} label-store row(s) from {store.path}")


def _publish_decision(decision) -> None:
    """To clinical.model.decisions, so workers count it and operators see it."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    from streams.settings import KafkaSettings

    kafka = KafkaSettings()

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                kafka.decisions_topic, decision.model_dump_json().encode("utf-8")
            )
        finally:
            await producer.stop()

    asyncio.run(send())


bench = typer.Typer(help="Benchmarks that print measured figures.")
app.add_typer(bench, name="bench")


@bench.command("accuracy")
def bench_accuracy(
    corpora: Annotated[Path, typer.Option(help="The shared gold corpora.")] = Path(
        "../shared/corpora"
    ),
    suite: Annotated[
        BenchSuite,
        typer.Option(
            help="lexicon: lexicon teacher vs distilled vs supervised on PHEE and BC5CDR "
            "(bench/accuracy.md); llm: recorded LLM teachers and their students on ADE Corpus, "
            "and LLM-written PHEE (bench/llm-teachers.md); all: both."
        ),
    ] = BenchSuite.LEXICON,
    llm_teacher: Annotated[
        list[str] | None,
        typer.Option(help="With --suite llm: only these recorded teachers (repeatable)."),
    ] = None,
    extra_notes: Annotated[
        int, typer.Option(help="Unlabelled MTSamples/deid notes added to distillation.")
    ] = 200,
    reuse_labels: Annotated[
        bool, typer.Option(help="Reuse the teacher labels an earlier run saved (no lexicons).")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Keep the students an earlier run finished with the same settings; train the rest."
        ),
    ] = False,
) -> None:
    """Teachers vs the students distilled from them vs supervised students, on dev gold."""
    from streams.settings import RuntimeSettings
    from trainer.bench import (
        llm_markdown_table,
        markdown_table,
        run_accuracy_benchmark,
        run_llm_teacher_benchmark,
    )

    _configure_logging()
    if not corpora.is_dir():
        raise typer.BadParameter(f"{corpora} not found; pass --corpora")
    workdir = RuntimeSettings().data_dir / "bench"
    tables = {}
    if suite in (BenchSuite.LEXICON, BenchSuite.ALL):
        summary = run_accuracy_benchmark(corpora, workdir, extra_notes, reuse_labels, resume=resume)
        tables[Path("bench/accuracy.md")] = markdown_table(summary)
    if suite in (BenchSuite.LLM, BenchSuite.ALL):
        summary = run_llm_teacher_benchmark(corpora, workdir, llm_teacher, resume=resume)
        tables[Path("bench/llm-teachers.md")] = llm_markdown_table(summary)
    for output, table in tables.items():
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(table)
        console.print(table)
        console.print(f"wrote {output}; runs and their JSON in {workdir}")


@bench.command("throughput")
def bench_throughput(
    model: Annotated[
        Path | None, typer.Option(help="Student folder (default: newest served version).")
    ] = None,
    corpora: Annotated[Path, typer.Option(help="The shared corpora (MTSamples notes).")] = Path(
        "../shared/corpora"
    ),
    notes: Annotated[int, typer.Option(help="How many notes.")] = 200,
    batch_size: Annotated[int, typer.Option(help="Notes per call, as the worker batches.")] = 16,
    variants_of: Annotated[
        Path | None,
        typer.Option(
            help="An fp32 run folder: also time each inference variant of it in process "
            "(precision, stride, batching), against it as the baseline."
        ),
    ] = None,
    dev: Annotated[
        Path | None,
        typer.Option(help="With --variants-of: gold dev set each variant is scored on."),
    ] = None,
    dev_format: Annotated[CorpusFormat, typer.Option(help="Format of --dev.")] = (
        CorpusFormat.JSONL
    ),
    usd_per_hour: Annotated[
        float,
        typer.Option(
            help="What the machine costs an hour, for the cost per million notes (default: a "
            "2-vCPU on-demand cloud instance, AWS c5.large)."
        ),
    ] = 0.085,
) -> None:
    """Notes/s, tokens/s, latency and memory of the student in process and end to end through
    the broker, Triton and the worker (bench/throughput.md)."""
    from models.card import StudentCard
    from streams.bench import markdown_table, run_throughput_benchmark
    from streams.settings import RuntimeSettings, TritonSettings
    from trainer.batch import read_documents
    from trainer.bench import compare_variants, inference_variants
    from trainer.corpora import read_corpus
    from trainer.demo_corpus import demo_notes
    from trainer.evaluate import OUR_TYPES, SCORED_TYPES
    from trainer.versions import MODEL_NAME, versions

    _configure_logging()
    if model is None:
        repository = TritonSettings().model_repository
        served = versions(repository)
        if not served:
            raise typer.BadParameter("no served version; pass --model or run `clinstream demo`")
        model = repository / MODEL_NAME / str(served[-1])
    if variants_of is not None and StudentCard.load(variants_of).precision != Precision.FP32:
        raise typer.BadParameter(f"{variants_of} is not fp32; its variants need the fp32 model")
    source = corpora / "mtsamples" / "mtsamples_subset.csv"
    if source.is_file():
        texts = [d.text for d in read_corpus(source, CorpusFormat.MTSAMPLES)][:notes]
    else:
        console.print(f"{source} not found: timing synthetic demo notes instead")
        texts = [n.text for n in demo_notes(notes, seed=1)]
    workdir = RuntimeSettings().data_dir / "bench" / "throughput"
    result = run_throughput_benchmark(model, texts, workdir, batch_size, usd_per_hour)
    if variants_of is not None:
        documents = read_documents(dev, dev_format) if dev is not None else None
        result.variants = compare_variants(
            variants_of, workdir, texts, batch_size, inference_variants(),
            documents, SCORED_TYPES.get(dev_format, OUR_TYPES),
        )  # fmt: skip
    (workdir / "throughput.json").write_text(result.model_dump_json(indent=2) + "\n")
    table = markdown_table(result)
    output = Path("bench/throughput.md")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(table)
    console.print(table)
    console.print(f"wrote {output}; the JSON in {workdir / 'throughput.json'}")


def _in_chunks(what: str, documents, label_batch, size: int = 32) -> list:
    """Run label_batch over documents in chunks, with a progress bar."""
    from rich.progress import track

    results = []
    chunks = range(0, len(documents), size)
    for start in track(chunks, description=what, console=progress_console):
        results += label_batch([d.text for d in documents[start : start + size]])
    return results


def _triton_predictions(texts: list[str]) -> list:
    import asyncio

    from streams.settings import TritonSettings, WorkerSettings
    from streams.triton_client import TritonStudent

    async def run() -> list:
        student = TritonStudent(TritonSettings())
        size = WorkerSettings().batch_size
        try:
            results = []
            for start in range(0, len(texts), size):
                results += (await student.extract(texts[start : start + size])).annotations
            return results
        finally:
            await student.close()

    return asyncio.run(run())


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Readiness probes poll; their per-request lines say nothing an operator needs.
    logging.getLogger("httpx").setLevel(logging.WARNING)


if __name__ == "__main__":
    app()
