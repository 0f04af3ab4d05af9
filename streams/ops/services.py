"""Child processes with readiness: a service is started with its own private log file, is ready
only when a real check passes (not after a sleep), and is stopped with SIGTERM, then SIGKILL.
Also the ports and environment the services are started with."""

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings

log = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    """A service that did not start; the message names the log file or setting to look at."""


def as_env(*settings: BaseSettings) -> dict[str, str]:
    """CLINSTREAM_* variables that reproduce these settings in a child process."""
    env = {}
    for group in settings:
        prefix = group.model_config.get("env_prefix", "")
        for name, value in group.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[f"{prefix}{name}".upper()] = str(value)
    return env


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a stack beside another (tests, benchmarks)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def require_free_port(host: str, port: int, setting: str) -> None:
    if not _port_free(host, port):
        raise ServiceError(f"port {port} on {host} is in use; choose another with {setting}")


def start_logged(command: list[str], log_file: Path, env: dict[str, str]) -> subprocess.Popen:
    """A child process in a session of its own (Ctrl-C reaches us, and we stop children in
    order), writing to a log file private to its user, as all it writes is: it may hold PHI."""
    log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(log_fd, "ab") as log_handle:
        return subprocess.Popen(
            command,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            umask=0o077,
        )


class Service:
    """A child process with a log file and a readiness check."""

    def __init__(
        self,
        name: str,
        command: list[str],
        log_file: Path,
        ready: Callable[[], bool],
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.command = command
        self.log_file = log_file
        self.ready = ready
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float) -> None:
        self.process = start_logged(self.command, self.log_file, self.env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with code {self.process.returncode} while starting; "
                    f"see {self.log_file}"
                )
            if self.ready():
                log.info("%s ready (pid %d, log %s)", self.name, self.process.pid, self.log_file)
                return
            time.sleep(0.25)
        self.stop()
        raise ServiceError(f"{self.name} not ready after {timeout_s:.0f}s; see {self.log_file}")

    def exited(self) -> int | None:
        """The exit code of a service that has stopped on its own, else None."""
        return None if self.process is None else self.process.poll()

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM, then SIGKILL, to the service's whole process group: what it started (Triton's
        python-backend stubs) goes with it, even when the service itself has already died."""
        if self.process is None:
            return
        group = self.process.pid  # its own session (start_new_session): group id = pid
        if self.process.poll() is None:
            _signal_group(group, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing it", self.name, timeout_s)
        _signal_group(group, signal.SIGKILL)
        self.process.wait()


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)
