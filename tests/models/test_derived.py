"""Indexes derived from the lexicon packages: built once, then loaded without the packages."""

import os
import subprocess
import sys

from models.derived import derived


def test_a_derived_index_is_built_once_and_kept_privately(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINSTREAM_CODES_CACHE_DIR", str(tmp_path / "cache"))
    builds = []

    def build() -> dict[str, int]:
        builds.append(1)
        return {"aspirin": 1}

    stale = tmp_path / "cache" / "test-0123456789abcdef.pickle"
    stale.parent.mkdir(mode=0o700)
    stale.write_bytes(b"an earlier installation's")
    assert derived("test", build) == derived("test", build) == {"aspirin": 1}
    assert len(builds) == 1
    assert (tmp_path / "cache").stat().st_mode & 0o077 == 0
    assert len(list((tmp_path / "cache").glob("test-*.pickle"))) == 1


def test_once_built_the_worker_codes_and_labels_without_importing_the_lexicon_packages(tmp_path):
    """Those packages hold some 600 MiB once imported; the worker needs only what is derived."""
    probe = (
        "import sys; from models.codes import codes_for; from models.labels import EntityType; "
        "from trainer.teachers.lexicon import LexiconTeacher; "
        "found = LexiconTeacher().label('Rash after amoxicillin.'); "
        "print(sorted(e.text for e in found.entities), "
        "[c.system for c in codes_for('amoxicillin', EntityType.DRUG)], "
        "'drug_named_entity_recognition' in sys.modules)"
    )
    env = {**os.environ, "CLINSTREAM_CODES_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
        for _ in range(2)
    ]
    built, loaded = (run.stdout.strip() for run in runs)
    assert built.endswith("True"), runs[0].stderr[-2000:]
    assert loaded == built.replace("True", "False")
    assert "['Rash', 'amoxicillin']" in loaded and "drugbank" in loaded
