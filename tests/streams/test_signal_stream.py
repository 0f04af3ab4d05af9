"""Signals on the real broker and worker: ADE events in, signal changes out, with the worker
SIGKILLed mid-stream and a second worker joining; the final table must equal an uninterrupted
run's (the same events counted in process), duplicates included."""

import asyncio
import csv
import os
import signal
import time

import pytest
from typer.testing import CliRunner

from models.messages import SignalChange
from streams import topics
from streams.ops.cli import app
from streams.ops.runtime import EmbeddedRuntime, worker_service
from streams.ops.services import free_port
from streams.ops.signals_bench import START, ade_event
from streams.settings import KafkaSettings, RuntimeSettings, SignalSettings, WorkerSettings
from streams.signals import SignalTable, case_of, current_table
from tests.streams.kafka_helpers import worker_metrics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Broker and worker only: the signal agents need no Triton."""
    with EmbeddedRuntime(
        kafka=KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}", partitions=2),
        worker=WorkerSettings(metrics_port=free_port()),
        runtime=RuntimeSettings(data_dir=tmp_path_factory.mktemp("signals")),
        only=("broker", "worker"),
    ) as embedded:
        yield embedded


def events(start: int, count: int, drugs: int = 6, effects: int = 8):
    """Background cases over a few drugs and effects, plus, in every block of 40, three cases
    of 'drugx' with 'eventx' (a pair that becomes a signal)."""
    made = []
    for i in range(start, start + count):
        if i % 40 < 3:
            made.append(ade_event(i, f"p{i}", "drugx", "eventx", START))
        else:
            made.append(ade_event(i, f"p{i}", f"drug{i % drugs}", f"effect{i % effects}", START))
    return made


async def publish(kafka, ades) -> None:
    producer = topics.producer(kafka)
    await producer.start()
    try:
        for ade in ades:
            await producer.send(kafka.ade_topic, topics.encode(ade), key=ade.note_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


def counted(port: int) -> float:
    try:
        return worker_metrics(None, port)[("clinstream_signal_cases", ())]
    except Exception:  # a worker still starting
        return -1


async def until_counted(ports, expected: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not any(counted(port) == expected for port in ports):
        assert time.monotonic() < deadline, f"cases counted {[counted(p) for p in ports]}"
        await asyncio.sleep(0.5)


async def last_changes(kafka) -> dict[str, SignalChange]:
    last = {}
    for partition in range(kafka.partitions):
        async for record in topics.read_partition(kafka, kafka.ade_signals_topic,
                                                  partition=partition):  # fmt: skip
            change = SignalChange.model_validate_json(record.value)
            last[change.pair_id] = change
    return last


async def test_signals_survive_a_kill_and_a_second_worker(stack):
    kafka, port = stack.kafka, stack.worker.metrics_port
    first, second, third = events(0, 160), events(160, 160), events(320, 160)
    expected = SignalTable(SignalSettings())
    for ade in first + second + third:
        expected.add(case_of(ade))

    await publish(kafka, first)
    await until_counted([port], 160)
    await asyncio.sleep(6)  # past Faust's commit interval: the restart resumes mid-topic
    worker = next(s for s in stack.services if s.name == "worker")
    os.kill(worker.process.pid, signal.SIGKILL)
    # While it is down: new events, and half the first ones again (an upstream replay).
    await publish(kafka, second + first[:80])
    await asyncio.to_thread(worker.start, stack.runtime.startup_timeout_s)
    await until_counted([port], 320)
    assert worker_metrics(None, port)[("clinstream_signal_rebuilds_total", ())] >= 1

    other_port = free_port()
    other = worker_service(
        kafka, stack.triton, stack.worker.model_copy(update={"metrics_port": other_port}),
        stack.loop, stack.runtime.model_copy(update={"data_dir": stack.runtime.data_dir / "2"}),
    )  # fmt: skip
    await asyncio.to_thread(other.start, stack.runtime.startup_timeout_s)
    try:
        await publish(kafka, third + second[:40])
        await until_counted([port, other_port], 480, timeout_s=180)
    finally:
        other.stop()

    table = await current_table(kafka, SignalSettings())
    ours = {(r.drug.key, r.event.key): (r.statistics, r.signal) for r in table.rows()}
    theirs = {(r.drug.key, r.event.key): (r.statistics, r.signal) for r in expected.rows()}
    assert ours == theirs and table.cases == 480
    signals = {(r.drug.display, r.event.display) for r in expected.rows() if r.signal}
    assert ("drugx", "eventx") in signals
    published = {(c.drug.display, c.event.display) for c in (await last_changes(kafka)).values()
                 if c.signal}  # fmt: skip
    assert published == signals

    csv_file = stack.runtime.data_dir / "signals.csv"
    env = {"CLINSTREAM_KAFKA_BOOTSTRAP": kafka.bootstrap}
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["signals", "--csv", str(csv_file)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "drugx" in result.output
    with csv_file.open() as rows:
        assert {(row["drug"], row["event"]) for row in csv.DictReader(rows)} == signals
