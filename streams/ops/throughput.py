"""The throughput benchmark: the student in process, and notes end to end through the broker,
tritonserver and the Faust worker, in one run on the same notes.

End to end, notes go to `clinical.notes` and the benchmark waits for every Extraction. At full
load all notes are produced at once (latency then is mostly queueing); at half load they are
produced evenly at half the full-load rate, which is the latency an SRE sees in normal running.
"""

import asyncio
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel

from models.messages import ClinicalNote, Extraction
from models.onnx_student import OnnxStudent, thread_layout
from models.settings import InferenceSettings
from streams.ops.runtime import EmbeddedRuntime
from streams.ops.services import free_port
from streams.repository import ModelRepository
from streams.settings import (
    KafkaSettings,
    LoopSettings,
    RuntimeSettings,
    TritonSettings,
    WorkerSettings,
)
from streams.topics import consumer, encode, producer
from trainer.bench.speed import (
    InProcess,
    VariantResult,
    device_description,
    peak_rss_mib,
    run_in_process,
)
from trainer.teachers.base import Teacher
from trainer.teachers.lexicon import LexiconTeacher
from trainer.teachers.llm import LlmSettings, estimated_tokens


class EndToEnd(BaseModel):
    load: str
    notes: int
    seconds: float
    notes_per_s: float
    note_tokens_per_s: int
    latency_p50_ms: float
    latency_p99_ms: float


class Cost(BaseModel):
    """Compute cost per million notes of the student (end to end, full load) beside the LLM
    teacher's token cost for the same notes."""

    cores: int
    usd_per_core_hour: float
    student_usd_per_million_notes: float
    llm_model: str
    answers_from: str  # the teacher whose answers on these notes set the output tokens
    llm_input_tokens_per_note: float  # estimated: CHARS_PER_TOKEN
    llm_output_tokens_per_note: float
    llm_usd_per_million_notes: float
    llm_over_student: float


def cost(notes_per_s: float, usd_per_core_hour: float, texts: list[str],
         teacher: Teacher) -> Cost:  # fmt: skip
    """The student priced on the cores it ran on; the LLM's output tokens from what a teacher
    answered on the same notes (the student's own answers held several times as many
    mentions), its input from the prompt and the note."""
    llm = LlmSettings()
    answers = teacher.label_batch(texts)
    tokens = [estimated_tokens(text, answer) for text, answer in zip(texts, answers, strict=True)]
    inputs = sum(t[0] for t in tokens) / len(tokens)
    outputs = sum(t[1] for t in tokens) / len(tokens)
    cores = len(os.sched_getaffinity(0))
    student = usd_per_core_hour * cores / 3600 / notes_per_s * 1e6
    teacher_usd = llm.usd(inputs, outputs) * 1e6
    return Cost(
        cores=cores,
        usd_per_core_hour=usd_per_core_hour,
        student_usd_per_million_notes=round(student, 2),
        llm_model=llm.model,
        answers_from=teacher.name,
        llm_input_tokens_per_note=round(inputs),
        llm_output_tokens_per_note=round(outputs),
        llm_usd_per_million_notes=round(teacher_usd, 2),
        llm_over_student=round(teacher_usd / student, 1),
    )


class TritonConfig(BaseModel):
    """Notes end to end at full load with Triton serving that many instances."""

    instances: int
    note_threads_per_instance: int
    intra_op_threads: int  # per note thread
    notes_per_s: float
    triton_cpu_ms_per_note: float
    worker_cpu_ms_per_note: float


class Throughput(BaseModel):
    device: str
    precision: str
    in_process: InProcess
    end_to_end: list[EndToEnd]
    end_to_end_ratio: float  # full-load notes/s end to end over in process
    peak_rss_mib: dict[str, int]
    cpu_ms_per_note: dict[str, float]  # per process, at full load once warm
    triton_configs: list[TritonConfig]  # the settings' instance count first
    cost: Cost
    settings: dict[str, dict]
    variants: list[VariantResult] = []


async def exchange(kafka: KafkaSettings, texts: list[str], rate: float | None) -> tuple[
    float, list[Extraction]
]:  # fmt: skip
    """Produce one note per text (evenly at `rate` notes/s, or all at once) and wait for their
    Extractions; returns the seconds from the first send to the last Extraction, and them."""
    run = uuid.uuid4().hex[:8]
    notes = [ClinicalNote(note_id=f"bench-{run}-{i}", text=text) for i, text in enumerate(texts)]
    entities = consumer(kafka, kafka.entities_topic, auto_offset_reset="latest")
    notes_out = producer(kafka)
    await entities.start()
    await notes_out.start()
    found: dict[str, Extraction] = {}
    try:
        await _assigned(entities)

        async def produce() -> None:
            for i, note in enumerate(notes):
                if rate is not None:
                    await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
                await notes_out.send(kafka.notes_topic, encode(note), key=note.note_id.encode())
            await notes_out.flush()

        started = time.perf_counter()
        sending = asyncio.create_task(produce())
        while len(found) < len(notes):
            for records in (await entities.getmany(timeout_ms=500)).values():
                for record in records:
                    extraction = Extraction.model_validate_json(record.value)
                    if extraction.note_id.startswith(f"bench-{run}-"):
                        found[extraction.note_id] = extraction
        seconds = time.perf_counter() - started
        await sending
    finally:
        await notes_out.stop()
        await entities.stop()
    return seconds, [found[note.note_id] for note in notes]


async def _assigned(consumer: AIOKafkaConsumer) -> None:
    """Wait for partitions, so that `latest` is fixed before the first note is sent."""
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=200)
    for partition in consumer.assignment():
        await consumer.position(partition)


def _end_to_end(load: str, texts: list[str], tokens: int, seconds: float,
                extractions: list[Extraction]) -> EndToEnd:  # fmt: skip
    latencies = [e.timings.end_to_end_ms for e in extractions]
    return EndToEnd(
        load=load,
        notes=len(texts),
        seconds=round(seconds, 2),
        notes_per_s=round(len(texts) / seconds, 2),
        note_tokens_per_s=round(tokens / seconds),
        latency_p50_ms=round(float(np.percentile(latencies, 50))),
        latency_p99_ms=round(float(np.percentile(latencies, 99))),
    )


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (Triton's python-backend stubs are its children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [pid]
    for child in children.read_text().split() if children.exists() else []:
        found += process_tree(int(child))
    return found


def peak_rss_mib_of(pid: int) -> int:
    """Peak resident memory of a process and its descendants."""
    kib = 0
    for member in process_tree(pid):
        status = Path(f"/proc/{member}/status").read_text()
        kib += next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmHWM:")
    return round(kib / 1024)


def cpu_seconds_of(pid: int) -> float:
    """CPU time (user + system) a process and its descendants have used so far."""
    ticks = 0
    for member in process_tree(pid):
        # Fields after the command name (which may hold spaces): utime and stime are 12 and 13.
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_throughput_benchmark(
    student_dir: Path,
    texts: list[str],
    workdir: Path,
    batch_size: int,
    usd_per_core_hour: float,
    other_instances: list[int],
) -> Throughput:
    """The student in process, then end to end at full and at half load, on the same notes;
    then at full load with Triton serving each of `other_instances` instance counts.

    In process runs twice, before the stack starts and after it stops, and the faster run
    counts: on a shared machine the slower one was disturbed. The stack runs on free ports with
    its own data dir and a model repository holding only this student; worker, Triton and
    inference settings come from CLINSTREAM_* as in production, so a run measures the
    configuration it is given.
    """
    student = OnnxStudent(student_dir)
    before, _ = run_in_process(student, texts, batch_size)
    tokens = before.note_tokens
    repository = workdir / "repository"
    shutil.rmtree(repository, ignore_errors=True)
    ModelRepository(repository, TritonSettings().model_name).publish(student_dir)
    instances = TritonSettings().instances
    with _stack(repository, workdir, batch_size, instances) as runtime:
        pids = _warm(runtime, texts[:batch_size])
        seconds, extractions, cpu_ms = _full_load(runtime, pids, texts)
        full = _end_to_end("full", texts, tokens, seconds, extractions)
        seconds, extractions = asyncio.run(exchange(runtime.kafka, texts, full.notes_per_s / 2))
        half = _end_to_end("half", texts, tokens, seconds, extractions)
        rss = {name: peak_rss_mib_of(pid) for name, pid in pids.items()}
    configs = [_triton_config(instances, full.notes_per_s, cpu_ms)]
    for count in other_instances:
        with _stack(repository, workdir, batch_size, count) as runtime:
            seconds, _, other_ms = _full_load(runtime, _warm(runtime, texts[:batch_size]), texts)
        configs.append(_triton_config(count, round(len(texts) / seconds, 2), other_ms))
    after, _ = run_in_process(student, texts, batch_size)
    in_process = max(before, after, key=lambda run: run.notes_per_s)
    return Throughput(
        device=device_description(student.session.get_providers()),
        precision=student.card.precision,
        in_process=in_process,
        end_to_end=[full, half],
        end_to_end_ratio=round(full.notes_per_s / in_process.notes_per_s, 3),
        peak_rss_mib={"benchmark (in process)": peak_rss_mib(), **rss},
        cpu_ms_per_note=cpu_ms,
        triton_configs=configs,
        cost=cost(full.notes_per_s, usd_per_core_hour, texts, LexiconTeacher()),
        settings={
            "worker": WorkerSettings().model_dump(include={"batch_size", "concurrency"})
            | {"batch_size": batch_size},
            "inference": InferenceSettings().model_dump(),
        },
    )


def _stack(repository: Path, workdir: Path, batch_size: int, instances: int) -> EmbeddedRuntime:
    return EmbeddedRuntime(
        kafka=KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}"),
        triton=TritonSettings(
            model_repository=repository,
            http_port=free_port(),
            grpc_port=free_port(),
            metrics_port=free_port(),
            instances=instances,
        ),
        worker=WorkerSettings(metrics_port=free_port(), batch_size=batch_size),
        runtime=RuntimeSettings(data_dir=workdir / "data"),
        loop=LoopSettings(),
    )


def _warm(runtime: EmbeddedRuntime, texts: list[str], most_s: float = 120.0) -> dict[str, int]:
    """A first batch through the stack, then a wait until every process is idle: the worker
    finishes starting its teacher slice in a thread after it reports ready, and that start
    (imports, lexicons) counted as the first notes' CPU. Returns each process's pid."""
    asyncio.run(exchange(runtime.kafka, texts, None))
    pids = {service.name: service.process.pid for service in runtime.services}
    deadline = time.monotonic() + most_s
    while time.monotonic() < deadline:
        before = sum(map(cpu_seconds_of, pids.values()))
        time.sleep(1.0)
        if sum(map(cpu_seconds_of, pids.values())) - before < 0.1:
            break
    return pids


def _full_load(
    runtime: EmbeddedRuntime, pids: dict[str, int], texts: list[str]
) -> tuple[float, list[Extraction], dict[str, float]]:
    """Every note produced at once: the seconds to the last Extraction, the Extractions, and
    each process's CPU milliseconds a note meanwhile."""
    before = {name: cpu_seconds_of(pid) for name, pid in pids.items()}
    seconds, extractions = asyncio.run(exchange(runtime.kafka, texts, None))
    cpu_ms = {
        name: round((cpu_seconds_of(pid) - before[name]) * 1000 / len(texts), 1)
        for name, pid in pids.items()
    }
    return seconds, extractions, cpu_ms


def _triton_config(instances: int, notes_per_s: float, cpu_ms: dict[str, float]) -> TritonConfig:
    note_threads, intra_op_threads = thread_layout(InferenceSettings(), instances)
    return TritonConfig(
        instances=instances,
        note_threads_per_instance=note_threads,
        intra_op_threads=intra_op_threads,
        notes_per_s=notes_per_s,
        triton_cpu_ms_per_note=cpu_ms["tritonserver"],
        worker_cpu_ms_per_note=cpu_ms["worker"],
    )


def throughput_table(result: Throughput) -> str:
    """The README's table: both paths, then each inference variant against the baseline."""
    lines = [
        "| path | load | notes/s | note tokens/s | latency p50 / p99 |",
        "|---|---|---|---|---|",
        f"| in process | batches of {result.settings['worker']['batch_size']} | "
        f"{result.in_process.notes_per_s} | {result.in_process.note_tokens_per_s} | "
        f"{result.in_process.batch_latency_p50_ms:.0f} / "
        f"{result.in_process.batch_latency_p99_ms:.0f} ms a batch |",
    ]
    for run in result.end_to_end:
        lines.append(
            f"| Kafka → worker → Triton → Kafka | {run.load} | {run.notes_per_s} | "
            f"{run.note_tokens_per_s} | {run.latency_p50_ms:.0f} / {run.latency_p99_ms:.0f} ms |"
        )
    memory = ", ".join(f"{name} {mib} MiB" for name, mib in result.peak_rss_mib.items())
    cpu = ", ".join(f"{name} {ms} ms" for name, ms in result.cpu_ms_per_note.items())
    lines += [
        "",
        f"{result.in_process.notes} notes, {result.precision} student on {result.device}; "
        f"end to end / in process {result.end_to_end_ratio}; the network sees "
        f"{result.in_process.window_tokens_per_note_token} window tokens per note token. "
        f"Peak memory: {memory}. CPU a note at full load, once warm: {cpu}.",
        "",
        "| Triton instances × note threads × ORT threads | notes/s end to end (full load) "
        "| Triton CPU a note "
        "| worker CPU a note |",
        "|---|---|---|---|",
    ]
    for config in result.triton_configs:
        lines.append(
            f"| {config.instances} × {config.note_threads_per_instance} × "
            f"{config.intra_op_threads} | {config.notes_per_s} | "
            f"{config.triton_cpu_ms_per_note} ms | {config.worker_cpu_ms_per_note} ms |"
        )
    price = result.cost
    lines += [
        "",
        f"Cost per million notes: student ${price.student_usd_per_million_notes} (end to end at "
        f"full load on {price.cores} cores at ${price.usd_per_core_hour} a core-hour); LLM "
        f"teacher {price.llm_model} ${price.llm_usd_per_million_notes} "
        f"({price.llm_input_tokens_per_note} input tokens a note, estimated from the prompt and "
        f"the note; {price.llm_output_tokens_per_note} output, estimated from the "
        f"{price.answers_from} teacher's answers on the same notes); "
        f"{price.llm_over_student}x.",
    ]
    if result.variants:
        lines += [
            "",
            "| in-process variant | notes/s | × baseline | entity agreement with baseline "
            "(strict F1) | dev strict F1 |",
            "|---|---|---|---|---|",
        ]
        for row in result.variants:
            dev = ", ".join(f"{k} {v:.3f}" for k, v in (row.dev_f1 or {}).items()) or "–"
            lines.append(
                f"| {row.variant.name} | {row.speed.notes_per_s} | {row.speedup} | "
                f"{row.agreement_f1:.3f} | {dev} |"
            )
    return "\n".join(lines) + "\n"
