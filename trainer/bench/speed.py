"""The student's speed in this process, and its inference variants (precision, threads,
stride) against fp32 on the same notes: what `bench throughput` reports beside the stream."""

import os
import platform
import resource
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel

from models.export import quantize_student
from models.labels import EntityType
from models.onnx_student import OnnxStudent
from models.settings import InferenceSettings, Precision
from models.spans import Annotations
from models.windows import encode_windows
from trainer.corpora import Document
from trainer.evaluate import MICRO, OUR_TYPES, evaluate


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
        Variant(name="int8, stride 16, one note thread", precision=Precision.INT8,
                inference=plain.model_copy(update={"stride": 16, "note_threads": 1})),
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
