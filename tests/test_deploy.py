"""The dashboards and alerts SREs rely on name metrics the worker really exports."""

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import streams.metrics  # noqa: F401  (registers the metrics)

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
_METRIC = re.compile(r"\bclinstream_[a-z0-9_]+")
_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


def exported_names() -> set[str]:
    return {sample.name for family in REGISTRY.collect() for sample in family.samples} | {
        family.name for family in REGISTRY.collect()
    }


def referenced(text: str) -> set[str]:
    return set(_METRIC.findall(text))


def test_alert_and_dashboard_queries_use_exported_metrics():
    exported = exported_names()
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    dashboard = json.loads((DEPLOY / "grafana" / "clinstream.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    names = set().union(*(referenced(expr) for expr in exprs))
    assert names
    for name in names:
        base = name
        for suffix in _SUFFIXES:
            base = base.removesuffix(suffix)
        assert name in exported or base in exported, name


def test_manifests_parse():
    for path in [*DEPLOY.glob("*.yaml"), *DEPLOY.glob("*/*.yaml"), *DEPLOY.glob("*/*.yml")]:
        assert list(yaml.safe_load_all(path.read_text())), path
