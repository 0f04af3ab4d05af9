"""The doors an attacker on the same host or network would try, against the real runtime."""

import base64
import ipaddress
import json
from pathlib import Path

import httpx
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

from streams.repository import ADMIN_HEADER, admin_key

pytestmark = pytest.mark.integration


def test_triton_refuses_to_load_or_unload_models_without_the_admin_key(runtime):
    triton = runtime.triton
    # What the attacker sent: a python-backend model uploaded in the load request itself,
    # whose model.py Triton would run.
    upload = {
        "config": json.dumps({"name": "intruder", "backend": "python", "max_batch_size": 0}),
        "file:1/model.py": base64.b64encode(b"open('/tmp/clinstream-pwned', 'w')").decode(),
    }
    loaded = httpx.post(f"{triton.http_url}/v2/repository/models/intruder/load",
                        json={"parameters": upload})  # fmt: skip
    unloaded = httpx.post(f"{triton.http_url}/v2/repository/models/{triton.model_name}/unload")
    index = httpx.post(f"{triton.http_url}/v2/repository/index")
    assert {loaded.status_code, unloaded.status_code, index.status_code} <= {401, 403}
    with pytest.raises(InferenceServerException):
        triton_grpc.InferenceServerClient(triton.grpc_url).unload_model(triton.model_name)
    assert not Path("/tmp/clinstream-pwned").exists()

    client = triton_http.InferenceServerClient(f"{triton.host}:{triton.http_port}")
    assert client.is_model_ready(triton.model_name)  # health stays open, and it still serves
    key = {ADMIN_HEADER: admin_key(triton, runtime.runtime)}
    client.load_model(triton.model_name, headers=key)  # the key opens the admin API
    assert client.is_model_ready(triton.model_name)


def listening_hosts(port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Addresses a port listens on, from the kernel's socket tables (hex, 32-bit words in
    host order; an IPv4-mapped IPv6 address counts as its IPv4 one)."""
    hosts = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:
                raw = bytes.fromhex(address)
                host = ipaddress.ip_address(
                    b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                )
                hosts.add(getattr(host, "ipv4_mapped", None) or host)
    return hosts


def test_every_listener_binds_to_loopback_by_default(runtime):
    ports = {
        "worker metrics": runtime.worker.metrics_port,
        "broker": int(runtime.kafka.bootstrap.rpartition(":")[2]),
        "Triton HTTP": runtime.triton.http_port,
        "Triton gRPC": runtime.triton.grpc_port,
        "Triton metrics": runtime.triton.metrics_port,
    }
    for name, port in ports.items():
        hosts = listening_hosts(port)
        assert hosts and all(host.is_loopback for host in hosts), f"{name} on {hosts}"


def test_logs_and_the_admin_key_are_private_to_their_user(runtime):
    data = runtime.runtime
    private = [data.log_dir, *data.log_dir.glob("*.log"), data.data_dir / "triton-admin-key"]
    assert len(private) >= 4
    for path in private:
        assert path.stat().st_mode & 0o077 == 0, path


def test_tritons_shared_memory_is_private_to_its_service(runtime):
    """The python backend's request regions (note text) live in a /dev/shm that only Triton's
    process tree sees, mode 0700; none is in the host's /dev/shm."""
    triton = next(s for s in runtime.services if s.name == "tritonserver")
    own = Path(f"/proc/{triton.process.pid}/root/dev/shm")
    regions = list(own.glob("*python_backend_shm_region*"))
    assert regions, "Triton's regions not found in its /dev/shm"
    assert (own.stat().st_mode & 0o777) == 0o700
    assert not list(Path("/dev/shm").glob("*python_backend_shm_region*"))
