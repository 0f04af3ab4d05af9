"""The accuracy benchmark: lexicon teacher vs distilled student vs supervised student.

The distilled student never sees gold: the teacher labels the training text of PHEE and BC5CDR
and extra unlabelled notes (MTSamples, PhysioNet deid); its early stopping uses a held-out part
of those teacher labels. Supervised students train on gold, one per corpus (the corpora label
different types), with a held-out part of the gold training split for early stopping. All are
scored on the dev splits, which no model trains or stops on.
"""

import hashlib
import json
import os
import platform
import random
import re
import resource
import shutil
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel

from models.export import quantize_student
from models.labels import EntityType
from models.onnx_student import OnnxStudent
from models.settings import InferenceSettings, Precision, StudentSettings
from models.spans import Annotations
from models.windows import encode_windows
from trainer.corpora import CorpusFormat, Document, read_corpus
from trainer.evaluate import MICRO, OUR_TYPES, SCORED_TYPES, Report, evaluate
from trainer.pairs import fit_pair_model, pairing_on_gold_mentions, repaired
from trainer.settings import TrainingSettings
from trainer.teachers.recorded import RecordedSettings, RecordedTeacher
from trainer.train import RunMetrics, distil_student, train_student

_HELD_OUT = 0.1
TEACHER_LABELS_FILE = "teacher-labels.json"
FINISHED_FILE = "bench-finished.json"


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


def _trained(run: Path, resume: bool, train: Callable[[], RunMetrics]) -> RunMetrics:
    """Train into `run`; with `resume`, keep the student an earlier bench finished there with
    the same settings, so a benchmark cut short (hours of training on CPU) goes on from there."""
    settings = {"student": StudentSettings().model_dump(mode="json"),
                "training": TrainingSettings().model_dump(mode="json")}  # fmt: skip
    finished = run / FINISHED_FILE
    if resume and finished.exists():
        saved = json.loads(finished.read_text())
        if saved["settings"] == settings:
            return RunMetrics.model_validate(saved["metrics"])
    metrics = train()
    finished.write_text(
        json.dumps({"settings": settings, "metrics": metrics.model_dump(mode="json")}, indent=2)
    )
    return metrics


def run_accuracy_benchmark(
    root: Path,
    workdir: Path,
    extra_notes: int,
    reuse_labels: bool = False,
    seed: int = 13,
    resume: bool = False,
) -> dict:
    """Train and score every model; returns {model: {corpus: Report}} and timings."""
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

    fit, stop = _split(data.distill, seed)
    distilled = workdir / "distilled"
    runs["distilled student"] = _trained(
        distilled, resume, partial(distil_student, fit, distilled, "lexicon", dev=stop)
    )
    results["distilled student"] = score(extract_dev(workdir / "distilled"))

    supervised: dict[str, Report] = {}
    for corpus in data.corpora:
        fit, stop = _split(data.train[corpus.name], seed)
        run = workdir / f"supervised-{corpus.name.lower()}"
        types = SCORED_TYPES[corpus.corpus_format]
        runs[f"supervised student ({corpus.name})"] = _trained(
            run, resume, partial(train_student, fit, run, "gold", dev=stop, dev_types=types)
        )
        supervised[corpus.name] = score(extract_dev(run))[corpus.name]
    results["supervised student"] = supervised
    summary = {
        "results": {m: {c: r.model_dump() for c, r in rs.items()} for m, rs in results.items()},
        "train_seconds": {k: round(r.train_seconds) for k, r in runs.items()},
        "best_epochs": {k: r.best_epoch for k, r in runs.items()},
        "device": _device_name(next(iter(runs.values())).device),
        "training": TrainingSettings().model_dump(),
        "teacher": data.teacher,
        "distill_documents": len(data.distill),
        "extra_unlabelled_notes": data.extra_unlabelled_notes,
    }
    (workdir / "accuracy.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


ADE_PROMPTS = ("gpt41nano_direct", "gpt41nano_enhanced", "gpt41nano_dspy")


def llm_teachers(
    train: Path, prompts: tuple[str, ...] = ADE_PROMPTS
) -> dict[str, RecordedSettings]:
    """Each recorded prompt alone, all of them combined by 1 and by 2 votes, and by the label
    model, replaying the `train` recording."""
    teachers = {p: RecordedSettings(answers=train, prompts=[p]) for p in prompts}
    for votes in (1, 2):
        teachers[f"{votes} of {len(prompts)} prompts"] = RecordedSettings(
            answers=train, prompts=list(prompts), min_votes=votes
        )
    teachers[f"label model of {len(prompts)} prompts"] = RecordedSettings(
        answers=train, prompts=list(prompts), combine="label_model"
    )
    return teachers


def run_llm_teacher_benchmark(
    root: Path,
    workdir: Path,
    teachers: list[str] | None = None,
    seed: int = 13,
    resume: bool = False,
) -> dict:
    """The research's two recipes with real LLM labels and no endpoint.

    ADE Corpus: each recorded teacher labels the train sentences; a student distils from them
    (early stopping on held-out teacher labels, never gold); teacher and student are scored on
    dev, on the sentences with a relation (as the literature does) and on all of them.
    PHEE: a student trained on gpt-3.5-written, gpt-3.5-labelled sentences alone, scored on
    PHEE dev. Pairing: learned from the LLM-written events (every student here pairs with it),
    against the nearest-drug rule and the pairing learned from PHEE train gold.
    """
    ade = root / "ade_llm"
    train = read_corpus(ade / "train.jsonl", CorpusFormat.ADE_LLM)
    dev = read_corpus(ade / "dev.jsonl", CorpusFormat.ADE_LLM)
    related = [d for d in dev if d.labels.entities]
    types = SCORED_TYPES[CorpusFormat.ADE_LLM]
    synthetic = [
        *read_corpus(root / "phee_chatgpt" / "train_aug.json", CorpusFormat.PHEE),
        *read_corpus(root / "phee_chatgpt" / "train_aug_constrain_drug_and_effect.json",
                     CorpusFormat.PHEE),
    ]  # fmt: skip
    synthetic_fit, synthetic_stop = _split(synthetic, seed)
    phee_train = read_corpus(root / "phee" / "train.json", CorpusFormat.PHEE)
    phee_dev = read_corpus(root / "phee" / "dev.json", CorpusFormat.PHEE)
    pairings = {
        "nearest drug": None,
        "learned, PHEE train gold": fit_pair_model(phee_train, "PHEE train gold"),
        "learned, LLM-written": fit_pair_model(synthetic_fit, "phee_chatgpt"),
    }
    llm_pairing = pairings["learned, LLM-written"]

    def views(predicted: list[Annotations]) -> dict[str, dict]:
        by_text = dict(zip([d.text for d in dev], predicted, strict=True))
        return {
            "relation sentences": evaluate([d.labels for d in related],
                                           [by_text[d.text] for d in related], types).model_dump(),
            "all sentences": evaluate([d.labels for d in dev], predicted, types).model_dump(),
        }  # fmt: skip

    def student_views(
        run: Path, documents: list[Document], scored: Callable[[list[Annotations]], dict]
    ) -> dict[str, dict]:
        """The student's scores with the learned pairing, and its pairs by the nearest drug."""
        llm_pairing.save(run)
        predicted = OnnxStudent(run).extract([d.text for d in documents])
        nearest = scored(repaired(documents, predicted, None))
        return {"learned pairing": scored(predicted), "nearest-drug pairs": nearest}

    results: dict[str, dict] = {}
    chosen = llm_teachers(ade / "train.jsonl")
    for name in teachers or list(chosen):
        settings = chosen[name]
        teacher = RecordedTeacher(settings)
        labels = teacher.label_batch([d.text for d in train])
        labelled = [
            d.model_copy(update={"labels": x, "readings": teacher.readings(d.text)})
            for d, x in zip(train, labels, strict=True)
        ]
        fit, stop = _split(labelled, seed)
        run = workdir / ("ade-" + re.sub(r"\W+", "-", name))
        metrics = _trained(
            run, resume, partial(distil_student, fit, run, teacher.version, dev=stop)
        )
        dev_teacher = RecordedTeacher(
            settings.model_copy(update={"answers": ade / "dev.jsonl"}), teacher.label_model
        )
        student = student_views(run, dev, views)
        results[name] = {
            "teacher": views(dev_teacher.label_batch([d.text for d in dev])),
            "student": student["learned pairing"],
            "student_nearest_pairs": student["nearest-drug pairs"],
            "train_seconds": round(metrics.train_seconds),
            "best_epoch": metrics.best_epoch,
            "device": _device_name(metrics.device),
        }

    phee_types = SCORED_TYPES[CorpusFormat.PHEE]
    phee_run = workdir / "phee-chatgpt"
    metrics = _trained(phee_run, resume, partial(
        train_student, synthetic_fit, phee_run, "gpt-3.5 synthetic", dev=synthetic_stop,
        dev_types=phee_types))  # fmt: skip

    def phee_score(predicted: list[Annotations]) -> dict:
        return evaluate([d.labels for d in phee_dev], predicted, phee_types).model_dump()

    phee = student_views(phee_run, phee_dev, phee_score)
    gold_entities = {
        "PHEE dev": (phee_dev, phee_types),
        "ADE dev, relation sentences": (related, types),
    }
    summary = {
        "ade": results,
        "phee_synthetic": {
            "report": phee["learned pairing"],
            "nearest_pairs": phee["nearest-drug pairs"]["ade_pairs"],
            "train_seconds": round(metrics.train_seconds), "best_epoch": metrics.best_epoch,
            "device": _device_name(metrics.device), "sentences": len(synthetic),
        },
        "pairing_on_gold_mentions": {
            corpus: {name: score.model_dump() for name, score in
                     pairing_on_gold_mentions(docs, pairings, scored).items()}
            for corpus, (docs, scored) in gold_entities.items()
        },
        "training": TrainingSettings().model_dump(),
    }  # fmt: skip
    (workdir / "llm-teachers.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def llm_markdown_table(summary: dict) -> str:
    """Strict F1 (lenient in brackets) of each recorded teacher and its student on ADE dev;
    ADE pairs (the teacher's by the nearest drug; the student's by the learned pairing, the
    nearest drug in brackets); then the PHEE student and the pairing methods."""
    lines = [
        "| teacher | view | type | teacher F1 | student F1 | student − teacher | "
        "teacher P / student P | student training |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in summary["ade"].items():
        training = f"{row['train_seconds']} s, best epoch {row['best_epoch']}, {row['device']}"
        for view in ("relation sentences", "all sentences"):
            teacher, student = row["teacher"][view], row["student"][view]
            for label in ("drug", "ade"):
                t, s = teacher["strict"][label], student["strict"][label]
                lines.append(
                    f"| {name} | {view} | {label} | {t['f1']:.3f} "
                    f"({teacher['lenient'][label]['f1']:.3f}) | {s['f1']:.3f} "
                    f"({student['lenient'][label]['f1']:.3f}) | {100 * (s['f1'] - t['f1']):+.1f} "
                    f"| {t['p']:.3f} / {s['p']:.3f} | {training} |"
                )
            t, s = teacher["ade_pairs"], student["ade_pairs"]
            nearest = row["student_nearest_pairs"][view]["ade_pairs"]
            lines.append(
                f"| {name} | {view} | pairs | {t['f1']:.3f} | {s['f1']:.3f} "
                f"({nearest['f1']:.3f}) | {100 * (s['f1'] - t['f1']):+.1f} "
                f"| {t['p']:.3f} / {s['p']:.3f} | {training} |"
            )
    phee = summary["phee_synthetic"]
    report = phee["report"]
    lines += [
        "",
        f"PHEE dev, student trained on {phee['sentences']} LLM-written sentences alone: "
        + ", ".join(f"{label} {report['strict'][label]['f1']:.3f} "
                    f"({report['lenient'][label]['f1']:.3f})" for label in ("drug", "effect"))
        + f", ADE pairs {report['ade_pairs']['f1']:.3f} (nearest drug "
        f"{phee['nearest_pairs']['f1']:.3f}); {phee['train_seconds']} s, best epoch "
        f"{phee['best_epoch']}, {phee['device']}.",
        "",
        "ADE pair P / R / F1 of each pairing method on the gold mentions:",
        "",
        "| corpus | pairing | P | R | F1 |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for corpus, methods in summary["pairing_on_gold_mentions"].items():
        for method, score in methods.items():
            lines.append(
                f"| {corpus} | {method} | {score['p']:.3f} | {score['r']:.3f} | {score['f1']:.3f} |"
            )
    lines += ["", f"Training: {_recipe(summary['training'])}."]
    return "\n".join(lines) + "\n"


def _recipe(training: dict) -> str:
    """The training settings a table's figures depend on, for its footer."""
    targets = "soft targets" if training["soft_targets"] else "hard targets"
    return (
        f"at most {training['epochs']} epochs, batch {training['batch_size']}, learning rate "
        f"{training['learning_rate']}, {training['loss'].replace('_', ' ')} on {targets}, class "
        f"weight power {training['class_weight_power']}, {training['self_training_rounds']} "
        f"self-training rounds, O-token keep {training['o_token_keep']}"
    )


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name()
    return f"CPU, {torch.get_num_threads()} threads"


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
    timing = ", ".join(
        f"{k} {v} s (best epoch {summary['best_epochs'][k]})"
        for k, v in summary["train_seconds"].items()
    )
    lines += [
        "",
        f"Training on {summary['device']}: {timing}; {_recipe(summary['training'])}. Distilled on "
        f"{summary['distill_documents']} teacher-labelled texts "
        f"({summary['extra_unlabelled_notes']} of them unlabelled clinical notes).",
    ]
    return "\n".join(lines) + "\n"


class InProcess(BaseModel):
    """Speed of the student's inference code (the class Triton runs) in this process."""

    notes: int
    note_tokens: int
    window_tokens_per_note_token: float
    seconds: float
    notes_per_s: float
    note_tokens_per_s: int
    batch_latency_p50_ms: float
    batch_latency_p99_ms: float


def run_in_process(
    student: OnnxStudent, texts: list[str], batch_size: int
) -> tuple[InProcess, list[Annotations]]:
    """Notes in batches of `batch_size`, as the worker sends them; the first batch warms up
    the session and the tokenizer's caches and is not timed."""
    student.extract(texts[:batch_size])
    note_tokens = sum(
        len(ids)
        for ids in student.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    )
    windows = encode_windows(student.tokenizer, texts, student.card.max_length, student.stride)
    latencies, found = [], []
    started = time.perf_counter()
    for start in range(0, len(texts), batch_size):
        batch_started = time.perf_counter()
        found += student.extract(texts[start : start + batch_size])
        latencies.append(time.perf_counter() - batch_started)
    seconds = time.perf_counter() - started
    return InProcess(
        notes=len(texts),
        note_tokens=note_tokens,
        window_tokens_per_note_token=round(
            sum(map(sum, windows.attention_mask)) / max(1, note_tokens), 3
        ),
        seconds=round(seconds, 2),
        notes_per_s=round(len(texts) / seconds, 2),
        note_tokens_per_s=round(note_tokens / seconds),
        batch_latency_p50_ms=round(float(np.percentile(latencies, 50)) * 1000),
        batch_latency_p99_ms=round(float(np.percentile(latencies, 99)) * 1000),
    ), found


class Variant(BaseModel):
    """One way of running the student, measured against the baseline in the same run."""

    name: str
    precision: Precision
    inference: InferenceSettings


class VariantResult(BaseModel):
    variant: Variant
    speed: InProcess
    speedup: float  # notes/s over the baseline's
    agreement_f1: float  # strict micro F1 of its entities against the baseline's, same notes
    dev_f1: dict[str, float] | None  # strict F1 per type on the dev gold, when given


def inference_variants() -> list[Variant]:
    """Today's way first (fp32, the card's stride), then each change alone, then together;
    all on the inference settings of the environment."""
    plain = InferenceSettings()
    return [
        Variant(name="fp32 (baseline)", precision=Precision.FP32, inference=plain),
        Variant(name="fp32, threads that sleep when idle", precision=Precision.FP32,
                inference=plain.model_copy(update={"spinning": False})),
        Variant(name="fp32, stride 16", precision=Precision.FP32,
                inference=plain.model_copy(update={"stride": 16})),
        Variant(name="int8", precision=Precision.INT8, inference=plain),
        Variant(name="int8, stride 16", precision=Precision.INT8,
                inference=plain.model_copy(update={"stride": 16})),
    ]  # fmt: skip


def compare_variants(
    fp32_dir: Path,
    workdir: Path,
    texts: list[str],
    batch_size: int,
    variants: list[Variant],
    dev: list[Document] | None = None,
    dev_types: Mapping[EntityType, str] = OUR_TYPES,
) -> list[VariantResult]:
    """Each variant on the same notes; the first is the baseline that the others are scored
    against (speed, and agreement of their entities with its entities)."""
    int8_dir = workdir / "int8"
    shutil.rmtree(int8_dir, ignore_errors=True)
    shutil.copytree(fp32_dir, int8_dir, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    quantize_student(int8_dir)
    folders = {Precision.FP32: fp32_dir, Precision.INT8: int8_dir}
    results: list[VariantResult] = []
    baseline: tuple[InProcess, list[Annotations]] | None = None
    for variant in variants:
        student = OnnxStudent(folders[variant.precision], variant.inference)
        speed, found = run_in_process(student, texts, batch_size)
        baseline = baseline or (speed, found)
        dev_f1 = None
        if dev:
            report = evaluate(
                [d.labels for d in dev], student.extract([d.text for d in dev]), dev_types
            )
            dev_f1 = {label: round(r.f1, 4) for label, r in report.strict.items()}
        agreement = evaluate(baseline[1], found, OUR_TYPES).strict[MICRO].f1
        results.append(
            VariantResult(
                variant=variant,
                speed=speed,
                speedup=round(speed.notes_per_s / baseline[0].notes_per_s, 2),
                agreement_f1=round(agreement, 4),
                dev_f1=dev_f1,
            )
        )
    return results


def device_description(providers: list[str]) -> str:
    """The CPU model and cores, or the GPU, that ONNX Runtime ran on."""
    if "CUDAExecutionProvider" in providers:
        return f"{torch.cuda.get_device_name()} (CUDA)"
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "CPU",
    )  # fmt: skip
    return f"{model}, {len(os.sched_getaffinity(0))} cores"


def peak_rss_mib() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
