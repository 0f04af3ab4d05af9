"""The accuracy benchmark: lexicon teacher vs distilled student vs supervised student.

The distilled student never sees gold: the teacher labels the training text of PHEE and BC5CDR
and extra unlabelled notes (MTSamples, PhysioNet deid); its early stopping uses a held-out part
of those teacher labels. Supervised students train on gold, one per corpus (the corpora label
different types), with a held-out part of the gold training split for early stopping. All are
scored on the dev splits, which no model trains or stops on.
"""

import hashlib
import json
import random
from functools import partial
from pathlib import Path

from pydantic import BaseModel

from models.onnx_student import OnnxStudent
from models.settings import StudentSettings
from models.spans import Annotations
from trainer.bench.runs import device_name, recipe, trained
from trainer.corpora import CorpusFormat, Document, read_corpus
from trainer.distil import distil_student, held_out
from trainer.evaluate import MICRO, SCORED_TYPES, Report, evaluate
from trainer.settings import TrainingSettings
from trainer.train import RunMetrics, train_student

TEACHER_LABELS_FILE = "teacher-labels.json"


class AccuracySummary(BaseModel):
    """What `bench accuracy` measured (accuracy.json): model -> corpus -> scores on dev."""

    results: dict[str, dict[str, Report]]
    train_seconds: dict[str, int]
    best_epochs: dict[str, int]
    device: str
    training: TrainingSettings
    student: StudentSettings
    teacher: str
    distill_documents: int
    extra_unlabelled_notes: int


class Corpus(BaseModel):
    name: str
    corpus_format: CorpusFormat
    train: Path
    dev: Path


def corpora(root: Path) -> list[Corpus]:
    return [
        Corpus(name="PHEE", corpus_format=CorpusFormat.PHEE,
               train=root / "phee" / "train.json", dev=root / "phee" / "dev.json"),
        Corpus(name="BC5CDR", corpus_format=CorpusFormat.BC5CDR,
               train=root / "bc5cdr" / "CDR_TrainingSet.PubTator.txt",
               dev=root / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"),
    ]  # fmt: skip


class BenchData(BaseModel):
    """Gold splits, and the teacher's labels of the distillation text and of the dev splits."""

    corpora: list[Corpus]
    train: dict[str, list[Document]]
    dev: dict[str, list[Document]]
    distill: list[Document]
    teacher_dev: dict[str, list[Annotations]]
    teacher: str
    extra_unlabelled_notes: int


def prepare(
    root: Path, workdir: Path, extra_notes: int, reuse_labels: bool, seed: int
) -> BenchData:
    """Read the corpora and have the lexicon teacher label them (or reuse its saved labels)."""
    sets = corpora(root)
    train = {c.name: read_corpus(c.train, c.corpus_format) for c in sets}
    dev = {c.name: read_corpus(c.dev, c.corpus_format) for c in sets}
    unlabelled = [
        *read_corpus(root / "mtsamples" / "mtsamples_subset.csv", CorpusFormat.MTSAMPLES),
        *read_corpus(root / "physionet_deid" / "id.text", CorpusFormat.DEID),
    ]
    random.Random(seed).shuffle(unlabelled)
    unlabelled = unlabelled[:extra_notes]
    distill = [d for name in train for d in train[name]] + unlabelled
    texts = [d.text for d in distill] + [d.text for c in sets for d in dev[c.name]]
    teacher, labels = _teacher_labels(texts, workdir / TEACHER_LABELS_FILE, reuse_labels)
    by_text = dict(zip(texts, labels, strict=True))
    return BenchData(
        corpora=sets,
        train=train,
        dev=dev,
        distill=[d.model_copy(update={"labels": by_text[d.text]}) for d in distill],
        teacher_dev={c.name: [by_text[d.text] for d in dev[c.name]] for c in sets},
        teacher=teacher,
        extra_unlabelled_notes=len(unlabelled),
    )


def _teacher_labels(
    texts: list[str], labels_file: Path, reuse: bool
) -> tuple[str, list[Annotations]]:
    """The lexicon teacher's labels, saved beside the runs; `reuse` reads them back instead, so
    a re-run with other training settings, or on a machine without the lexicons, skips them."""
    if reuse:
        saved = json.loads(labels_file.read_text())
        by_hash = {key: Annotations.model_validate(value) for key, value in saved["labels"].items()}
        missing = sum(_text_hash(text) not in by_hash for text in texts)
        if missing:
            raise ValueError(f"{labels_file} lacks labels for {missing} texts; run without reuse")
        return saved["teacher"], [by_hash[_text_hash(text)] for text in texts]
    # Imported here: reusing saved labels needs none of the lexicon packages.
    from trainer.teachers.lexicon import LexiconTeacher

    teacher = LexiconTeacher()
    labels = teacher.label_batch(texts)
    labels_file.parent.mkdir(parents=True, exist_ok=True)
    saved = {_text_hash(t): a.model_dump(mode="json") for t, a in zip(texts, labels, strict=True)}
    labels_file.write_text(json.dumps({"teacher": teacher.version, "labels": saved}))
    return teacher.version, labels


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run_accuracy_benchmark(
    root: Path,
    workdir: Path,
    extra_notes: int,
    reuse_labels: bool = False,
    seed: int = 13,
    resume: bool = False,
) -> AccuracySummary:
    """Train and score every model on each corpus's dev split, with the training times."""
    data = prepare(root, workdir, extra_notes, reuse_labels, seed)

    def score(predictions: dict[str, list[Annotations]]) -> dict[str, Report]:
        return {
            c.name: evaluate(
                [d.labels for d in data.dev[c.name]],
                predictions[c.name],
                SCORED_TYPES[c.corpus_format],
            )
            for c in data.corpora
        }

    def extract_dev(run: Path) -> dict[str, list[Annotations]]:
        student = OnnxStudent(run)
        return {c.name: student.extract([d.text for d in data.dev[c.name]]) for c in data.corpora}

    results: dict[str, dict[str, Report]] = {"lexicon teacher": score(data.teacher_dev)}
    runs: dict[str, RunMetrics] = {}

    fit, stop = held_out(data.distill, seed)
    distilled = workdir / "distilled"
    runs["distilled student"] = trained(
        distilled, resume, partial(distil_student, fit, distilled, "lexicon", dev=stop)
    )
    results["distilled student"] = score(extract_dev(workdir / "distilled"))

    supervised: dict[str, Report] = {}
    for corpus in data.corpora:
        fit, stop = held_out(data.train[corpus.name], seed)
        run = workdir / f"supervised-{corpus.name.lower()}"
        types = SCORED_TYPES[corpus.corpus_format]
        runs[f"supervised student ({corpus.name})"] = trained(
            run, resume, partial(train_student, fit, run, "gold", dev=stop, dev_types=types)
        )
        supervised[corpus.name] = score(extract_dev(run))[corpus.name]
    results["supervised student"] = supervised
    summary = AccuracySummary(
        results=results,
        train_seconds={k: round(r.train_seconds) for k, r in runs.items()},
        best_epochs={k: r.best_epoch for k, r in runs.items()},
        device=device_name(next(iter(runs.values())).device),
        training=TrainingSettings(),
        student=StudentSettings(),
        teacher=data.teacher,
        distill_documents=len(data.distill),
        extra_unlabelled_notes=data.extra_unlabelled_notes,
    )
    (workdir / "accuracy.json").write_text(summary.model_dump_json(indent=2) + "\n")
    return summary


def accuracy_table(summary: AccuracySummary) -> str:
    """Strict F1 per type (lenient in brackets), one row per corpus and type."""
    results = summary.results
    models = list(results)
    lines = [
        "| corpus | type | "
        + " | ".join(models)
        + " | distilled − teacher | supervised − distilled |",
        "|---|---|" + "---|" * (len(models) + 2),
    ]
    for corpus in results[models[0]]:
        for label in results[models[0]][corpus].strict:
            if label == MICRO:
                continue
            f1 = [results[m][corpus].strict[label].f1 for m in models]
            lenient = [results[m][corpus].lenient[label].f1 for m in models]
            cells = [f"{s:.3f} ({le:.3f})" for s, le in zip(f1, lenient, strict=True)]
            lines.append(
                f"| {corpus} | {label} | " + " | ".join(cells)
                + f" | {100 * (f1[1] - f1[0]):+.1f} | {100 * (f1[2] - f1[1]):+.1f} |"
            )  # fmt: skip
        pairs = [results[m][corpus].ade_pairs.f1 for m in models]
        if results[models[0]][corpus].ade_pairs.support:
            lines.append(
                f"| {corpus} | ADE pairs | " + " | ".join(f"{p:.3f}" for p in pairs)
                + f" | {100 * (pairs[1] - pairs[0]):+.1f} | {100 * (pairs[2] - pairs[1]):+.1f} |"
            )  # fmt: skip
    timing = ", ".join(
        f"{k} {v} s (best epoch {summary.best_epochs[k]})" for k, v in summary.train_seconds.items()
    )
    lines += [
        "",
        f"Training on {summary.device}: {timing}; "
        f"{recipe(summary.training, summary.student)}. Distilled on "
        f"{summary.distill_documents} teacher-labelled texts "
        f"({summary.extra_unlabelled_notes} of them unlabelled clinical notes).",
    ]
    return "\n".join(lines) + "\n"
