"""The alert rules on the real stack: Debian's Prometheus scrapes the worker and Triton and
evaluates deploy/prometheus/alerts.yml, with its `for` and rate windows shortened to seconds
(promtool tests the real ones: tests/test_alert_rules.py), and sends to a real Alertmanager.
Triton down, consumer lag, worker down and dead letters each go to firing and back."""

import asyncio
import re
import shutil
import time

import httpx
import pytest
import yaml

from models.messages import ClinicalNote
from streams.ops.demo_corpus import demo_notes
from streams.ops.runtime import EmbeddedRuntime
from streams.ops.services import Service, free_port
from streams.settings import (
    KafkaSettings,
    LoopSettings,
    RuntimeSettings,
    SamplingSettings,
    TritonSettings,
    WorkerSettings,
)
from tests.streams.kafka_helpers import produce
from tests.test_alert_rules import ALERTS

PROMETHEUS, ALERTMANAGER = shutil.which("prometheus"), shutil.which("prometheus-alertmanager")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        PROMETHEUS is None or ALERTMANAGER is None,
        reason="prometheus or prometheus-alertmanager not found: they ship as Debian packages "
        "(apt-get install prometheus prometheus-alertmanager, as .ci/run does), not wheels",
    ),
]


def shortened_rules() -> str:
    """alerts.yml with every `for` at 3 s, rate windows at 10 s and the lag threshold at 5."""
    rules = yaml.safe_load(ALERTS.read_text())
    for rule in rules["groups"][0]["rules"]:
        rule["for"] = "3s"
        rule["expr"] = re.sub(r"\[\d+m\]", "[10s]", rule["expr"]).replace("> 1000", "> 5")
    return yaml.safe_dump(rules)


def ready(url: str):
    def check() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


@pytest.fixture(scope="module")
def monitored(tmp_path_factory, model_repository):
    folder = tmp_path_factory.mktemp("monitoring")
    stack = EmbeddedRuntime(
        kafka=KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}", partitions=2),
        triton=TritonSettings(http_port=free_port(), grpc_port=free_port(),
                              metrics_port=free_port(), model_repository=model_repository),
        worker=WorkerSettings(metrics_port=free_port(), lag_interval_s=1.0, batch_size=8),
        runtime=RuntimeSettings(data_dir=folder / "data"),
        loop=LoopSettings(sampling=SamplingSettings(sample_rate=0)),
    )  # fmt: skip
    am_port, prom_port = free_port(), free_port()
    alertmanager_at = f"127.0.0.1:{am_port}"
    (folder / "am.yml").write_text(yaml.safe_dump({
        "route": {"receiver": "none", "group_wait": "1s", "group_interval": "1s"},
        "receivers": [{"name": "none"}],
    }))  # fmt: skip
    (folder / "rules.yml").write_text(shortened_rules())
    (folder / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(folder / "rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager_at]}]}]},
        "scrape_configs": [
            {"job_name": "clinstream-worker",
             "static_configs": [{"targets": [f"127.0.0.1:{stack.worker.metrics_port}"]}]},
            {"job_name": "triton",
             "static_configs": [{"targets": [f"127.0.0.1:{stack.triton.metrics_port}"]}]},
        ],
    }))  # fmt: skip
    alertmanager = Service("alertmanager", [
        ALERTMANAGER, f"--config.file={folder / 'am.yml'}", f"--storage.path={folder / 'am'}",
        f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
    ], folder / "alertmanager.log", ready(f"http://127.0.0.1:{am_port}/-/ready"))  # fmt: skip
    prometheus = Service("prometheus", [
        PROMETHEUS, f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}",
    ], folder / "prometheus.log", ready(f"http://127.0.0.1:{prom_port}/-/ready"))  # fmt: skip
    with stack:
        alertmanager.start(60)
        prometheus.start(60)
        try:
            yield stack, f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}"
        finally:
            prometheus.stop()
            alertmanager.stop()


def firing(prometheus: str) -> set[str]:
    alerts = httpx.get(f"{prometheus}/api/v1/alerts").json()["data"]["alerts"]
    return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}


def active_in_alertmanager(alertmanager: str) -> set[str]:
    alerts = httpx.get(f"{alertmanager}/api/v2/alerts", params={"active": "true"}).json()
    return {a["labels"]["alertname"] for a in alerts if a["status"]["state"] == "active"}


async def until(condition, what: str, prometheus: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}; firing: {sorted(firing(prometheus))}"
        await asyncio.sleep(1)


def notes(count: int, prefix: str) -> list[tuple[bytes, bytes]]:
    return [(n.note_id.encode(), ClinicalNote(note_id=n.note_id, text=n.text).model_dump_json()
             .encode()) for n in demo_notes(count, seed=len(prefix), prefix=prefix)]  # fmt: skip


async def test_alerts_go_to_firing_and_back(monitored):
    stack, prometheus, alertmanager = monitored
    triton = next(s for s in stack.services if s.name == "tritonserver")
    worker = next(s for s in stack.services if s.name == "worker")

    async def fires(*names: str) -> None:
        await until(lambda: set(names) <= firing(prometheus), f"{names} never fired", prometheus)

    async def resolves(*names: str) -> None:
        await until(lambda: not set(names) & firing(prometheus), f"{names} never resolved",
                    prometheus, timeout_s=180)  # fmt: skip

    await produce(stack.kafka, notes(8, "warm-up"))
    await asyncio.sleep(5)  # a few scrapes and evaluations
    assert not firing(prometheus)

    triton.stop()
    await produce(stack.kafka, notes(40, "held"))
    await fires("ClinstreamTritonDown", "ClinstreamHoldingNotes", "ClinstreamConsumerLag")
    await until(lambda: "ClinstreamTritonDown" in active_in_alertmanager(alertmanager),
                "Alertmanager never got ClinstreamTritonDown", prometheus)  # fmt: skip
    await asyncio.to_thread(triton.start, stack.runtime.startup_timeout_s)
    await resolves("ClinstreamTritonDown", "ClinstreamHoldingNotes", "ClinstreamConsumerLag")
    await until(lambda: "ClinstreamTritonDown" not in active_in_alertmanager(alertmanager),
                "Alertmanager never resolved ClinstreamTritonDown", prometheus)  # fmt: skip

    worker.stop()
    await fires("ClinstreamWorkerDown")
    await asyncio.to_thread(worker.start, stack.runtime.startup_timeout_s)
    await resolves("ClinstreamWorkerDown")

    await produce(stack.kafka, [(b"bad", b"{not json")] * 30 + notes(4, "beside"))
    await fires("ClinstreamDeadLettersRising")
    await resolves("ClinstreamDeadLettersRising")
