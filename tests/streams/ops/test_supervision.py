"""`clinstream up` keeps its services up: one that dies is restarted with backoff and counted,
and stopping a service takes what it started with it (Triton's python-backend stubs)."""

import os
import signal
import time
from pathlib import Path

from streams.ops.runtime import EmbeddedRuntime
from streams.ops.services import Service
from streams.settings import RuntimeSettings


def alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_stopping_a_service_stops_the_children_it_started(tmp_path):
    pidfile = tmp_path / "child.pid"
    service = Service(
        "parent",
        ["bash", "-c", f"sleep 300 & echo $! > {pidfile}; wait"],
        tmp_path / "parent.log",
        ready=pidfile.exists,
    )
    service.start(timeout_s=10)
    child = int(pidfile.read_text())
    assert alive(child)
    service.stop(timeout_s=5)
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_a_service_that_dies_is_restarted_and_counted(tmp_path):
    runtime = EmbeddedRuntime(runtime=RuntimeSettings(data_dir=tmp_path), only=())
    sleeper = Service("sleeper", ["sleep", "300"], tmp_path / "sleeper.log", ready=lambda: True)
    sleeper.start(timeout_s=5)
    runtime.services.append(sleeper)
    first = sleeper.process.pid
    os.kill(first, signal.SIGKILL)
    rounds = iter(range(40))
    try:
        runtime.supervise(
            running=lambda: next(rounds, None) is not None and not runtime.restarts, poll_s=0.1
        )
        assert runtime.restarts["sleeper"] == 1
        assert sleeper.process.pid != first and sleeper.exited() is None
    finally:
        runtime.stop()
