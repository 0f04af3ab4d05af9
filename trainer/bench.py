"""The accuracy benchmark: lexicon teacher vs distilled student vs supervised student.

The distilled student never sees gold: the teacher labels the training text of PHEE and BC5CDR
and extra unlabelled notes (MTSamples, PhysioNet deid); its early stopping uses a held-out part
of those teacher labels. Supervised students train on gold, one per corpus (the corpora label
different types), with a held-out part of the gold training split for early stopping. All are
scored on the dev splits, which no model trains or stops on.
"""

import json
import random
import resource
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from models.onnx_student import OnnxStudent
from trainer.corpora import CorpusFormat, Document, read_corpus
from trainer.evaluate import MICRO, OUR_TYPES, SCORED_TYPES, Report, evaluate
from trainer.teachers.lexicon import LexiconTeacher
from trainer.train import train_student

_HELD_OUT = 0.1


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


def _split(documents: list[Document], seed: int) -> tuple[list[Document], list[Document]]:
    shuffled = documents[:]
    random.Random(seed).shuffle(shuffled)
    cut = max(1, int(len(shuffled) * _HELD_OUT))
    return shuffled[cut:], shuffled[:cut]


def run_accuracy_benchmark(root: Path, workdir: Path, extra_notes: int, seed: int = 13) -> dict:
    """Train and score every model; returns {model: {corpus: Report}} and timings."""
    teacher = LexiconTeacher()
    sets = corpora(root)
    train = {c.name: read_corpus(c.train, c.corpus_format) for c in sets}
    dev = {c.name: read_corpus(c.dev, c.corpus_format) for c in sets}
    unlabelled = [
        *read_corpus(root / "mtsamples" / "mtsamples_subset.csv", CorpusFormat.MTSAMPLES),
        *read_corpus(root / "physionet_deid" / "id.text", CorpusFormat.DEID),
    ]
    random.Random(seed).shuffle(unlabelled)
    unlabelled = unlabelled[:extra_notes]

    def score(predict) -> dict[str, Report]:
        return {
            c.name: evaluate(
                [d.labels for d in dev[c.name]],
                predict([d.text for d in dev[c.name]]),
                SCORED_TYPES[c.corpus_format],
            )
            for c in sets
        }

    results: dict[str, dict[str, Report]] = {"lexicon teacher": score(teacher.label_batch)}
    seconds: dict[str, float] = {}

    distill_texts = [d for name in train for d in train[name]] + unlabelled
    teacher_labelled = [
        Document(doc_id=d.doc_id, text=d.text, labels=label)
        for d, label in zip(distill_texts, teacher.label_batch([d.text for d in distill_texts]),
                            strict=True)
    ]  # fmt: skip
    fit, stop = _split(teacher_labelled, seed)
    started = time.perf_counter()
    train_student(fit, workdir / "distilled", teacher.name, dev=stop, dev_types=OUR_TYPES)
    seconds["distilled student"] = time.perf_counter() - started
    results["distilled student"] = score(OnnxStudent(workdir / "distilled").extract)

    supervised: dict[str, Report] = {}
    for corpus in sets:
        fit, stop = _split(train[corpus.name], seed)
        run = workdir / f"supervised-{corpus.name.lower()}"
        started = time.perf_counter()
        train_student(fit, run, "gold", dev=stop, dev_types=SCORED_TYPES[corpus.corpus_format])
        seconds[f"supervised student ({corpus.name})"] = time.perf_counter() - started
        student = OnnxStudent(run)
        supervised[corpus.name] = evaluate(
            [d.labels for d in dev[corpus.name]],
            student.extract([d.text for d in dev[corpus.name]]),
            SCORED_TYPES[corpus.corpus_format],
        )
    results["supervised student"] = supervised
    summary = {
        "results": {m: {c: r.model_dump() for c, r in rs.items()} for m, rs in results.items()},
        "train_seconds": {k: round(v) for k, v in seconds.items()},
        "distill_documents": len(teacher_labelled),
        "extra_unlabelled_notes": len(unlabelled),
    }
    (workdir / "accuracy.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def markdown_table(summary: dict) -> str:
    """Strict F1 per type (lenient in brackets), one row per corpus and type."""
    results = summary["results"]
    models = list(results)
    lines = [
        "| corpus | type | "
        + " | ".join(models)
        + " | distilled − teacher | supervised − distilled |",
        "|---|---|" + "---|" * (len(models) + 2),
    ]
    for corpus in results[models[0]]:
        for label in results[models[0]][corpus]["strict"]:
            if label == MICRO:
                continue
            f1 = [results[m][corpus]["strict"][label]["f1"] for m in models]
            lenient = [results[m][corpus]["lenient"][label]["f1"] for m in models]
            cells = [f"{s:.3f} ({le:.3f})" for s, le in zip(f1, lenient, strict=True)]
            lines.append(
                f"| {corpus} | {label} | " + " | ".join(cells)
                + f" | {100 * (f1[1] - f1[0]):+.1f} | {100 * (f1[2] - f1[1]):+.1f} |"
            )  # fmt: skip
        pairs = [results[m][corpus]["ade_pairs"]["f1"] for m in models]
        if results[models[0]][corpus]["ade_pairs"]["support"]:
            lines.append(
                f"| {corpus} | ADE pairs | " + " | ".join(f"{p:.3f}" for p in pairs)
                + f" | {100 * (pairs[1] - pairs[0]):+.1f} | {100 * (pairs[2] - pairs[1]):+.1f} |"
            )  # fmt: skip
    timing = ", ".join(f"{k} {v} s" for k, v in summary["train_seconds"].items())
    lines += [
        "",
        f"Training time on this machine: {timing}. Distilled on "
        f"{summary['distill_documents']} teacher-labelled texts "
        f"({summary['extra_unlabelled_notes']} of them unlabelled clinical notes).",
    ]
    return "\n".join(lines) + "\n"


def run_throughput_benchmark(student_dir: Path, texts: list[str], batch_size: int) -> dict:
    """Notes/s, tokens/s and batch latency of the ONNX student (the code Triton runs), and
    the process's peak memory."""
    student = OnnxStudent(student_dir)
    student.extract(texts[:batch_size])  # warm-up: session and tokenizer caches
    tokens = sum(len(ids) for ids in student.tokenizer(texts, verbose=False)["input_ids"])
    latencies = []
    started = time.perf_counter()
    for start in range(0, len(texts), batch_size):
        batch_started = time.perf_counter()
        student.extract(texts[start : start + batch_size])
        latencies.append(time.perf_counter() - batch_started)
    seconds = time.perf_counter() - started
    return {
        "notes": len(texts),
        "characters": sum(map(len, texts)),
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "notes_per_s": round(len(texts) / seconds, 2),
        "tokens_per_s": round(tokens / seconds),
        "batch_latency_p50_ms": round(float(np.percentile(latencies, 50)) * 1000),
        "batch_latency_p99_ms": round(float(np.percentile(latencies, 99)) * 1000),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "providers": student.session.get_providers(),
    }
