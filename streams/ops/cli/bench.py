"""`clinstream bench`: benchmarks that print measured figures and write their tables."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from models.settings import Precision
from streams.ops.cli.common import configure_logging, console
from trainer.corpora import CorpusFormat

commands = typer.Typer(help="Benchmarks that print measured figures.")


class BenchSuite(StrEnum):
    LEXICON = "lexicon"
    LLM = "llm"
    ALL = "all"


@commands.command("accuracy")
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
    from trainer.bench.accuracy import accuracy_table, run_accuracy_benchmark
    from trainer.bench.llm import llm_table, run_llm_teacher_benchmark

    configure_logging()
    if not corpora.is_dir():
        raise typer.BadParameter(f"{corpora} not found; pass --corpora")
    workdir = RuntimeSettings().data_dir / "bench"
    tables = {}
    if suite in (BenchSuite.LEXICON, BenchSuite.ALL):
        summary = run_accuracy_benchmark(corpora, workdir, extra_notes, reuse_labels, resume=resume)
        tables[Path("bench/accuracy.md")] = accuracy_table(summary)
    if suite in (BenchSuite.LLM, BenchSuite.ALL):
        summary = run_llm_teacher_benchmark(corpora, workdir, llm_teacher, resume=resume)
        tables[Path("bench/llm-teachers.md")] = llm_table(summary)
    for output, table in tables.items():
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(table)
        console.print(table)
        console.print(f"wrote {output}; runs and their JSON in {workdir}")


@commands.command("throughput")
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
    usd_per_core_hour: Annotated[
        float,
        typer.Option(
            help="What a core of this machine costs an hour; the student is priced on the "
            "cores it ran on. Default: AWS c7a (AMD EPYC, a physical core per vCPU), on demand "
            "in us-east-1, c7a.large $0.10264/h for 2 cores."
        ),
    ] = 0.0513,
    other_instances: Annotated[
        list[int],
        typer.Option(
            help="Also run end to end at full load with Triton serving this many instances "
            "(repeatable), beside CLINSTREAM_TRITON_INSTANCES."
        ),
    ] = [2],  # noqa: B006 (typer reads the default, never mutates it)
) -> None:
    """Notes/s, tokens/s, latency and memory of the student in process and end to end through
    the broker, Triton and the worker (bench/throughput.md)."""
    from models.card import StudentCard
    from streams.ops.demo_corpus import demo_notes
    from streams.ops.throughput import run_throughput_benchmark, throughput_table
    from streams.repository import ModelRepository
    from streams.settings import RuntimeSettings, TritonSettings
    from trainer.batch import read_documents
    from trainer.bench.speed import compare_variants, inference_variants
    from trainer.corpora import read_corpus
    from trainer.evaluate import OUR_TYPES, SCORED_TYPES

    configure_logging()
    if model is None:
        repository = ModelRepository.of(TritonSettings())
        served = repository.versions()
        if not served:
            raise typer.BadParameter("no served version; pass --model or run `clinstream demo`")
        model = repository.version_dir(served[-1])
    if variants_of is not None and StudentCard.load(variants_of).precision != Precision.FP32:
        raise typer.BadParameter(f"{variants_of} is not fp32; its variants need the fp32 model")
    source = corpora / "mtsamples" / "mtsamples_subset.csv"
    if source.is_file():
        texts = [d.text for d in read_corpus(source, CorpusFormat.MTSAMPLES)][:notes]
    else:
        console.print(f"{source} not found: timing synthetic demo notes instead")
        texts = [n.text for n in demo_notes(notes, seed=1)]
    workdir = RuntimeSettings().data_dir / "bench" / "throughput"
    result = run_throughput_benchmark(
        model, texts, workdir, batch_size, usd_per_core_hour, other_instances
    )
    if variants_of is not None:
        documents = read_documents(dev, dev_format) if dev is not None else None
        result.variants = compare_variants(
            variants_of, workdir, texts, batch_size, inference_variants(),
            documents, SCORED_TYPES.get(dev_format, OUR_TYPES),
        )  # fmt: skip
    (workdir / "throughput.json").write_text(result.model_dump_json(indent=2) + "\n")
    table = throughput_table(result)
    output = Path("bench/throughput.md")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(table)
    console.print(table)
    console.print(f"wrote {output}; the JSON in {workdir / 'throughput.json'}")


@commands.command("label-store")
def bench_label_store(
    rows: Annotated[int, typer.Option(help="Samples in the full store.")] = 250_000,
    retention_days: Annotated[int, typer.Option(help="Days they are spread over.")] = 180,
) -> None:
    """The label store's write time on an empty store and on one of `rows` samples."""
    from streams.ops.label_store_bench import run_label_store_benchmark
    from streams.settings import RuntimeSettings

    workdir = RuntimeSettings().data_dir / "bench" / "label-store"
    workdir.mkdir(parents=True, exist_ok=True)
    result = run_label_store_benchmark(workdir, rows, retention_days)
    console.print(
        f"LabelStore.add: {result.add_ms_empty} ms empty, {result.add_ms_full} ms at "
        f"{result.rows:,} rows over {result.retention_days} days ({result.ratio}x)"
    )


@commands.command("signals")
def bench_signals(
    pairs: Annotated[int, typer.Option(help="Drug-event pairs of the speed run.")] = 100_000,
    cases: Annotated[int, typer.Option(help="Cases of the speed run.")] = 300_000,
) -> None:
    """The signal agent on synthetic streams: planted pairs found (20,000 cases, 200 drugs x
    300 events, three seeds) at the default criteria and at Evans + ROR; cases/s and memory."""
    from streams.ops.signals_bench import planted_result, signal_speed
    from streams.settings import SignalSettings

    for require in (SignalSettings().require, ["evans", "ror"]):
        settings = SignalSettings(require=require)
        for seed in (7, 8, 9):
            result = planted_result(settings, seed)
            console.print(
                f"{' + '.join(require)}, seed {seed}: {result.planted_flagged} of "
                f"{result.planted} planted pairs flagged, {result.unplanted_flagged} of "
                f"{result.pairs:,} other pairs ({result.cases:,} cases)"
            )
    speed = signal_speed(pairs, cases)
    console.print(
        f"{speed.cases:,} cases over {speed.pairs:,} pairs: {speed.cases_per_s:,.0f} cases/s "
        f"(decode, count, score every {SignalSettings().batch_size}); table {speed.table_mib} MiB"
    )


@commands.command("phi")
def bench_phi(
    model: Annotated[Path, typer.Option(help="A run folder or a student version folder.")],
    corpora: Annotated[Path, typer.Option(help="The shared corpora.")] = Path("../shared/corpora"),
) -> None:
    """Entities per note on the PhysioNet deid notes and entities on their gold PHI spans, for
    the student and the lexicon teacher (what a student invents on real text)."""
    from models.onnx_student import OnnxStudent
    from streams.ops.cli.common import in_chunks
    from trainer.bench.phi import deid_notes, phi_overlap, phi_spans
    from trainer.teachers.lexicon import LexiconTeacher

    deid = corpora / "physionet_deid"
    if not deid.is_dir():
        raise typer.BadParameter(f"no PhysioNet deid corpus at {deid}")
    documents, spans = deid_notes(deid), phi_spans(deid)
    student = OnnxStudent(model)
    teacher = LexiconTeacher()
    rows = [
        phi_overlap(f"student {model.name}", documents,
                    in_chunks("student", documents, student.extract), spans),
        phi_overlap("lexicon teacher", documents,
                    in_chunks("lexicon teacher", documents, teacher.label_batch), spans),
    ]  # fmt: skip
    for row in rows:
        console.print(
            f"{row.name}: {row.notes:,} notes, {row.entities:,} entities "
            f"({row.entities_per_note} a note), {row.on_phi:,} on gold PHI spans "
            f"{row.on_phi_by_kind}"
        )
