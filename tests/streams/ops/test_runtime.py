import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tritonclient.http as triton_http
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from models.onnx_student import session_options, thread_layout
from models.settings import InferenceSettings
from streams.ops.runtime import broker_service, start_deriving, triton_service, wait_derived
from streams.ops.services import ServiceError, as_env, free_port
from streams.ops.throughput import process_tree
from streams.repository import ADMIN_HEADER, ModelRepository, admin_key
from streams.settings import KafkaSettings, RuntimeSettings, TritonSettings


def connectable(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_port_in_use_names_the_setting_that_moves_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(ServiceError, match="CLINSTREAM_KAFKA_BOOTSTRAP"):
            broker_service(
                KafkaSettings(bootstrap=f"127.0.0.1:{port}"), RuntimeSettings(data_dir=tmp_path)
            )


def test_triton_without_a_student_version_says_how_to_make_one(tmp_path):
    settings = TritonSettings(
        http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(),
        model_repository=tmp_path / "empty",
    )  # fmt: skip
    with pytest.raises(ServiceError, match="clinstream demo"):
        triton_service(settings, RuntimeSettings(data_dir=tmp_path))


@pytest.mark.integration
def test_up_serves_until_sigterm_then_stops_its_children(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CLINSTREAM_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
        "CLINSTREAM_DATA_DIR": str(tmp_path),
    }
    up = subprocess.Popen(
        [sys.executable, "-m", "streams.ops.cli", "up", "--only", "broker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    for line in up.stdout:
        if "clinstream is up" in line:
            break
        assert time.monotonic() < deadline
    assert connectable(port)
    up.send_signal(signal.SIGTERM)
    assert up.wait(30) == 0
    assert not connectable(port)
    assert (tmp_path / "logs" / "broker.log").read_text().count("listening on") == 1


def test_what_the_worker_loads_is_derived_before_it_starts_and_a_failure_names_its_log(
    tmp_path, monkeypatch
):
    """A worker that found them unbuilt (after an install or an upgrade) imported the lexicon
    packages to build them: 1,282 MiB at its peak instead of about 615."""
    runtime = RuntimeSettings(data_dir=tmp_path / "data")
    monkeypatch.setenv("CLINSTREAM_CODES_CACHE_DIR", str(tmp_path / "cache"))
    wait_derived(start_deriving(runtime), runtime)
    built = sorted(path.name.rsplit("-", 1)[0] for path in (tmp_path / "cache").iterdir())
    assert built == ["drug-codes", "lexicon-phrases", "phenotype-codes"]

    monkeypatch.setenv("CLINSTREAM_CODES_CACHE_DIR", str(tmp_path / "data" / "logs" / "derive.log"))
    with pytest.raises(ServiceError, match=r"derive exited with code 1; see .*derive\.log"):
        wait_derived(start_deriving(runtime), runtime)


def test_the_runtime_derived_them_before_starting_its_worker(runtime):
    assert (runtime.runtime.log_dir / "derive.log").is_file()
    assert "worker" in [service.name for service in runtime.services]


def test_child_processes_get_secrets_in_clear_and_no_unset_values():
    kafka = KafkaSettings(security_protocol="SASL_SSL", sasl_username="u", sasl_password="pw")
    env = as_env(kafka)
    assert env["CLINSTREAM_KAFKA_SASL_PASSWORD"] == "pw"  # not pydantic's "**********"
    assert "CLINSTREAM_KAFKA_SSL_CAFILE" not in env  # unset stays unset, not "None"
    assert KafkaSettings(**{k.removeprefix("CLINSTREAM_KAFKA_").lower(): v
                            for k, v in env.items()}) == kafka  # fmt: skip
    options = kafka.client_options()
    assert options["sasl_plain_password"] == "pw" and options["ssl_context"] is not None
    assert kafka.faust_credentials().mechanism.value == "PLAIN"


def triton_command(tmp_path, model_repository, device: str) -> list[str]:
    settings = TritonSettings(
        http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(),
        model_repository=model_repository, device=device,
    )  # fmt: skip
    return triton_service(settings, RuntimeSettings(data_dir=tmp_path)).command


@pytest.mark.parametrize(
    ("device", "cuda", "gpu_config"),
    [("auto", True, True), ("auto", False, False), ("cpu", True, False), ("gpu", True, True)],
)
def test_triton_serves_the_gpu_config_where_a_gpu_and_cuda_build_are(
    tmp_path, model_repository, monkeypatch, device, cuda, gpu_config
):
    monkeypatch.setattr("streams.ops.runtime.cuda_ready", lambda: cuda)
    command = triton_command(tmp_path, model_repository, device)
    assert ("--model-config-name=gpu" in command) == gpu_config


def test_asking_for_a_gpu_where_none_is_says_what_to_install(
    tmp_path, model_repository, monkeypatch
):
    monkeypatch.setattr("streams.ops.runtime.cuda_ready", lambda: False)
    with pytest.raises(ServiceError, match=r"\[gpu\] extra"):
        triton_command(tmp_path, model_repository, "gpu")


def test_both_triton_configs_are_valid_and_serve_one_model_on_cpu_or_gpu(model_repository):
    """Parsed by Triton's own ModelConfig schema; the GPU one is published with every version."""
    model_dir = model_repository / "student"
    configs = [
        text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
        for path in (model_dir / "config.pbtxt", model_dir / "configs" / "gpu.pbtxt")
    ]
    kinds = [[group.kind for group in config.instance_group] for config in configs]
    assert kinds == [
        [model_config_pb2.ModelInstanceGroup.KIND_CPU],
        [model_config_pb2.ModelInstanceGroup.KIND_GPU],
    ]
    for config in configs:
        del config.instance_group[:]
    assert configs[0].name == configs[1].name == "student"
    assert configs[0].input == configs[1].input and configs[0].output == configs[1].output


def test_the_instance_setting_is_the_cpu_configs_count_and_cores_are_shared_out(tmp_path):
    repository = ModelRepository(tmp_path, "student")
    repository.set_instances(3)
    config = text_format.Parse(
        (repository.model_dir / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    assert [group.count for group in config.instance_group] == [3]
    cores = len(os.sched_getaffinity(0))
    notes, threads = thread_layout(InferenceSettings(), 3)
    assert 3 * notes * threads <= max(3, cores)  # no core taken twice where there are enough
    assert thread_layout(InferenceSettings(), 1) == (cores, 1)  # a note thread per core
    assert thread_layout(InferenceSettings(), 1, gpu=True) == (1, cores)
    one_thread = InferenceSettings(note_threads=1)
    assert session_options(one_thread, 1).intra_op_num_threads == 0  # ORT's default
    assert session_options(InferenceSettings(threads=4), 3).intra_op_num_threads == 4


@pytest.mark.integration
def test_triton_serves_the_student_in_as_many_instances_as_the_setting_says(runtime):
    triton = runtime.triton
    client = triton_http.InferenceServerClient(f"{triton.host}:{triton.http_port}")
    key = {ADMIN_HEADER: admin_key(triton, runtime.runtime)}
    config = client.get_model_config(triton.model_name, headers=key)
    assert [group["count"] for group in config["instance_group"]] == [triton.instances]
    server = next(s for s in runtime.services if s.name == "tritonserver").process.pid
    stubs = [
        pid
        for pid in process_tree(server)
        if "triton_python_backend_stub" in Path(f"/proc/{pid}/cmdline").read_text()
    ]
    assert len(stubs) == triton.instances
