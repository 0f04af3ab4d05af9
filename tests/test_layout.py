"""The house rules, read from the source: imports go one way (streams → trainer → models, the
worker never imports the operator's tools), and every Kafka client is built in one place."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Where a package may not reach: the packages below it must not import those above.
FORBIDDEN = {
    "models": ("trainer", "streams"),
    "trainer": ("streams",),
    "streams": ("streams.ops",),
}
KAFKA_CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}


def modules(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    if package == "streams":  # the worker: all of streams but the operator's tools
        files = [f for f in files if "ops" not in f.relative_to(ROOT / package).parts]
    return files


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_go_one_way(package):
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in imported(path)
        for above in FORBIDDEN[package]
        if name == above or name.startswith(above + ".")
    }
    assert not wrong, sorted(wrong)


def test_every_kafka_client_comes_from_the_one_connection_config():
    """A client built elsewhere can forget TLS/SASL, as the decisions producer once did."""
    builders = {
        str(path.relative_to(ROOT))
        for package in ("streams", "trainer", "models", "tests")
        for path in (ROOT / package).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) in KAFKA_CLIENTS
    }
    assert builders == {"streams/topics.py"}
