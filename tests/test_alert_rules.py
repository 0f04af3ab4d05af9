"""Every alert rule in deploy/prometheus/alerts.yml, unit-tested with `promtool test rules`: it
fires on the series it is about, after its `for`, and stays quiet on a healthy one."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ALERTS = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "alerts.yml"
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not found: Prometheus ships as a Debian package (apt-get install prometheus, "
    "as .ci/run does), not a wheel",
)

HEALTHY = [
    ("clinstream_notes_in_total", "0+600x120"),
    ("clinstream_notes_out_total", "0+600x120"),
    ('clinstream_dead_letters_total{reason="invalid_json"}', "0+1x120"),
    ('clinstream_dead_letters_total{reason="inference_failed"}', "0x120"),
    ('clinstream_dependency_up{dependency="triton"}', "1x120"),
    ('clinstream_end_to_end_latency_seconds_bucket{le="1"}', "0+600x120"),
    ('clinstream_end_to_end_latency_seconds_bucket{le="30"}', "0+600x120"),
    ('clinstream_end_to_end_latency_seconds_bucket{le="+Inf"}', "0+600x120"),
    ("clinstream_drift_score", "0.1x120"),
    ("clinstream_confidence_psi", "0.05x120"),
    ("clinstream_teacher_failures_total", "0x120"),
    ("clinstream_label_store_failures_total", "0x120"),
    ('up{job="clinstream-worker"}', "1x120"),
    ('up{job="triton"}', "1x120"),
    ('clinstream_consumer_lag{topic="clinical.notes",partition="0"}', "10x120"),
]
# Per rule: the series that make it fire (replacing the healthy ones of the same name), the
# minute by which its `for` has passed, and the labels the alert carries besides its own.
FIRING = {
    "ClinstreamDeadLettersRising": ([('clinstream_dead_letters_total{reason="invalid_json"}',
                                      "0+60x120")], 30, {}),
    "ClinstreamInferenceFailing": ([('clinstream_dead_letters_total{reason="inference_failed"}',
                                     "0+2x120")], 30, {}),
    "ClinstreamHoldingNotes": ([('clinstream_dependency_up{dependency="triton"}', "0x120")], 30,
                               {}),
    "ClinstreamSlowExtraction": ([("clinstream_end_to_end_latency_seconds_bucket{le=\"1\"}",
                                   "0x120")], 30, {}),
    "ClinstreamNoOutput": ([("clinstream_notes_out_total", "0x120")], 40, {}),
    "ClinstreamStudentDrift": ([("clinstream_drift_score", "0.5x120")], 60, {}),
    "ClinstreamConfidenceShift": ([("clinstream_confidence_psi", "0.4x120")], 60, {}),
    "ClinstreamTeacherFailing": ([("clinstream_teacher_failures_total", "0+1x120")], 40, {}),
    "ClinstreamWorkerDown": ([('up{job="clinstream-worker"}', "0x120")], 5,
                             {"job": "clinstream-worker"}),
    "ClinstreamTritonDown": ([('up{job="triton"}', "0x120")], 5, {"job": "triton"}),
    "ClinstreamConsumerLag": ([('clinstream_consumer_lag{topic="clinical.notes",partition="0"}',
                                "5000x120")], 30, {"topic": "clinical.notes"}),
    "ClinstreamLabelStoreFailing": ([("clinstream_label_store_failures_total", "0+1x120")], 30,
                                    {}),
}  # fmt: skip


def _inputs(replacing: list[tuple[str, str]]) -> list[dict]:
    replaced = {series for series, _ in replacing}
    return [{"series": s, "values": v} for s, v in HEALTHY if s not in replaced] + [
        {"series": s, "values": v} for s, v in replacing
    ]


def _annotations(rule: dict, labels: dict[str, str]) -> dict[str, str]:
    summary = rule["annotations"]["summary"]
    for key, value in labels.items():
        summary = summary.replace(f"{{{{ $labels.{key} }}}}", value)
    return {"summary": summary}


def test_every_rule_fires_on_its_cause_and_not_on_a_healthy_stack(tmp_path):
    rules = {
        r["alert"]: r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]
    }
    assert set(FIRING) == set(rules), "every rule needs a firing case here"
    tests = []
    for name, (series, minute, extra) in FIRING.items():
        labels = {**rules[name]["labels"], **extra}
        tests.append({"interval": "1m", "input_series": _inputs(series), "alert_rule_test": [
            {"eval_time": f"{minute}m", "alertname": name, "exp_alerts": [
                {"exp_labels": labels, "exp_annotations": _annotations(rules[name], labels)}]},
        ]})  # fmt: skip
    tests.append({"interval": "1m", "input_series": _inputs([]), "alert_rule_test": [
        {"eval_time": "90m", "alertname": name, "exp_alerts": []} for name in rules
    ]})  # fmt: skip
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    spec = tmp_path / "alerts.test.yml"
    spec.write_text(yaml.safe_dump({"rule_files": ["alerts.yml"], "evaluation_interval": "1m",
                                    "tests": tests}))  # fmt: skip
    result = subprocess.run([PROMTOOL, "test", "rules", str(spec)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
