"""Batch commands over stored notes: label, train, adapt, learn-pairs, export, extract,
evaluate, codes-dictionary."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from models.settings import Precision
from streams.ops.cli.common import FormatOption, NotesOption, configure_logging, console, in_chunks
from trainer.corpora import CorpusFormat
from trainer.teachers import TeacherName

commands = typer.Typer()


@commands.command()
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
    annotations = in_chunks(f"{chosen.name} labelling", documents, chosen.label_batch)
    write_extractions(output, documents, annotations, chosen.name, chosen.version, with_text=True)
    console.print(f"labelled {len(documents)} notes with {chosen.version} into {output}")
    usage = getattr(chosen, "usage", None)
    if usage is not None:
        console.print(f"LLM usage: {usage.model_dump_json()}")


@commands.command()
def train(
    output: Annotated[Path, typer.Option(help="Run folder to write.")],
    labels: Annotated[
        list[Path] | None,
        typer.Option(help="Teacher labels (`clinstream label`); repeat for several teachers."),
    ] = None,
    min_votes: Annotated[
        int | None,
        typer.Option(help="With several --labels: teachers a span needs; unset: any one."),
    ] = None,
    gold: Annotated[
        Path | None, typer.Option(help="Gold corpus: the supervised reference.")
    ] = None,
    corpus_format: FormatOption = CorpusFormat.JSONL,
    dev: Annotated[
        Path | None,
        typer.Option(
            help="Dev set for early stopping; unset with --labels: a tenth of the teacher "
            "labels, held out (also for the sentence head's operating point)."
        ),
    ] = None,
    dev_format: Annotated[CorpusFormat | None, typer.Option(help="Format of --dev.")] = None,
) -> None:
    """Train a student from teacher labels or gold; writes weights, tokenizer, ONNX, metrics."""
    from trainer.batch import read_documents, read_votes
    from trainer.distil import distil_student, held_out, teachers_recipe
    from trainer.evaluate import OUR_TYPES, SCORED_TYPES
    from trainer.train import train_student

    if (not labels) == (gold is None):
        raise typer.BadParameter("give --labels (one or more) or --gold")
    student, training = teachers_recipe(len(labels or []))
    documents = (
        read_votes(labels, min_votes, training.ade_needs_drug)
        if labels
        else read_documents(gold, corpus_format)
    )
    source = "gold" if gold else "teacher labels"
    dev_documents = None
    dev_types = OUR_TYPES
    if dev is not None:
        dev_format = dev_format or corpus_format
        dev_documents = read_documents(dev, dev_format)
        dev_types = SCORED_TYPES.get(dev_format, OUR_TYPES)
    if labels and dev is None:
        documents, dev_documents = held_out(documents, training.seed)
    fit = distil_student if labels else train_student
    metrics = fit(documents, output, source, dev=dev_documents, dev_types=dev_types,
                  student=student, training=training)  # fmt: skip
    console.print(
        f"trained on {metrics.train_documents} documents ({metrics.train_windows} windows) in "
        f"{metrics.train_seconds:.0f}s on {metrics.device}; best epoch {metrics.best_epoch}; "
        f"run folder {output}"
    )


@commands.command()
def adapt(
    output: Annotated[Path, typer.Option(help="Backbone folder to write.")],
    corpus: Annotated[
        list[Path], typer.Option(help="Unlabelled in-domain text; repeat for several corpora.")
    ],
    corpus_format: Annotated[
        list[CorpusFormat] | None,
        typer.Option("--format", help="Format of each --corpus, in order; one: all of them."),
    ] = None,
) -> None:
    """Continue the backbone's masked-LM pretraining on in-domain text (CLINSTREAM_ADAPT_*);
    the folder serves as CLINSTREAM_STUDENT_BACKBONE."""
    from trainer.adapt import adapt_backbone
    from trainer.batch import read_documents

    configure_logging()
    formats = corpus_format or [CorpusFormat.JSONL]
    if len(formats) not in (1, len(corpus)):
        raise typer.BadParameter("give one --format, or one for each --corpus")
    formats = formats * len(corpus) if len(formats) == 1 else formats
    texts = [
        document.text
        for path, path_format in zip(corpus, formats, strict=True)
        for document in read_documents(path, path_format)
    ]
    result = adapt_backbone(texts, output)
    console.print(
        f"adapted on {result.windows - result.held_out_windows} windows, {result.steps} steps in "
        f"{result.seconds:.0f}s on {result.device}; held-out masked-LM loss "
        f"{result.held_out_loss_before} -> {result.held_out_loss_after}; backbone {output}"
    )


@commands.command("learn-pairs")
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


@commands.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run folder of `clinstream train`.")],
    repository: Annotated[Path | None, typer.Option(help="Triton model repository.")] = None,
    precision: Annotated[
        Precision | None,
        typer.Option(help="int8: quantise an fp32 run on the way (default: as the run is)."),
    ] = None,
) -> None:
    """Publish a run as the next version of the Triton model (CLINSTREAM_TRITON_MODEL_NAME)."""
    from streams.repository import ModelRepository
    from streams.settings import TritonSettings

    triton = TritonSettings()
    target = ModelRepository(repository or triton.model_repository, triton.model_name)
    try:
        version = target.publish(run_dir, precision)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    console.print(f"published {run_dir} as {target.version_dir(version)}")


@commands.command()
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
        with_codes(found) for found in in_chunks("extracting", documents, student.extract)
    ]
    write_extractions(
        output, documents, annotations, student.card.name, student.card.name, with_text=False
    )
    console.print(f"extracted {len(documents)} notes into {output}")


@commands.command("codes-dictionary")
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


@commands.command()
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
    ade_needs_drug: Annotated[
        bool,
        typer.Option(
            help="Keep an ADE mention only in a text where a drug is found too, as the student "
            "does (CLINSTREAM_INFERENCE_ADE_NEEDS_DRUG): a teacher scored like-for-like."
        ),
    ] = False,
    abbreviations_apart: Annotated[
        bool,
        typer.Option(
            help="Split a mention that ends in a bracketed abbreviation in two, as training "
            "splits teacher labels (CLINSTREAM_TRAIN_ABBREVIATIONS_APART): a teacher scored "
            "by the guideline its student learns."
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

        predicted = in_chunks("student", documents, OnnxStudent(model).extract)
    elif triton:
        predicted = _triton_predictions(texts)
    elif teacher is not None:
        from trainer.teachers import make_teacher

        predicted = in_chunks(teacher.value, documents, make_teacher(teacher).label_batch)
    else:
        predicted = align_predictions(documents, read_extractions(predictions))
    if ade_needs_drug:
        from models.decoding import without_drugless_ade

        predicted = [without_drugless_ade(found) for found in predicted]
    if abbreviations_apart:
        from trainer.guideline import abbreviations_apart as apart

        predicted = [apart(d.text, found) for d, found in zip(documents, predicted, strict=True)]
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
        console.print(
            f"codes, {label}: {coded.coded}/{coded.mentions} exactly found mentions "
            f"coded (coverage {coded.coverage:.3f}), {coded.correct} with the gold "
            f"code first (precision {coded.precision:.3f})"
        )
    for name, flagged in report.assertions.items():
        console.print(
            f"assertion, {name}, on exactly found mentions: P {flagged.p:.3f} "
            f"R {flagged.r:.3f} F1 {flagged.f1:.3f} ({flagged.support} in gold)"
        )


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
