"""The Triton model repository: the student's versions, publishing one, having Triton load one
with the admin key, retiring one, and the drift reference each version carries.

The model's name comes from one place, `TritonSettings.model_name`; the config and the
python-backend entry point kept in `triton_repo/student/` are the template every repository gets.
The worker reads drift references from here; publishing, loading and retiring are for the
operator's tools (`streams.ops`).
"""

import contextlib
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import tritonclient.http as triton_http

from models.card import StudentCard
from models.settings import Precision
from streams.settings import RuntimeSettings, TritonSettings

# The python-backend entry point and config, kept once at the root of the model folder and
# placed in every version as Triton expects.
_BACKEND_FILE = "model.py"
_CONFIG_FILE = "config.pbtxt"
# Triton's --model-config-name=gpu reads configs/gpu.pbtxt: the same model on KIND_GPU.
GPU_CONFIG = "gpu"
_GPU_CONFIG_FILE = Path("configs") / f"{GPU_CONFIG}.pbtxt"
_TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "triton_repo" / "student"
_CONFIG_NAME = re.compile(r'^name: ".*"$', re.MULTILINE)
_INSTANCE_COUNT = re.compile(r"^(\s*)count: \d+$", re.MULTILINE)

# Triton's APIs that only clinstream's own retrain and rollback may call: every one but
# health and inference, which the workers need.
ADMIN_APIS = "model-repository,model-config,metadata,shared-memory,statistics,trace,logging"
ADMIN_HEADER = "clinstream-admin-key"


@dataclass(frozen=True)
class ModelRepository:
    root: Path
    name: str

    @classmethod
    def of(cls, triton: TritonSettings) -> "ModelRepository":
        return cls(triton.model_repository, triton.model_name)

    @property
    def model_dir(self) -> Path:
        return self.root / self.name

    def version_dir(self, version: int | str) -> Path:
        return self.model_dir / str(version)

    def versions(self) -> list[int]:
        if not self.model_dir.is_dir():
            return []
        return sorted(
            int(p.name) for p in self.model_dir.iterdir() if p.is_dir() and p.name.isdigit()
        )

    def publish(self, student_dir: Path, precision: Precision | None = None) -> int:
        """Copy an exported student in as version N+1; returns N+1.

        `precision` int8 quantises the copy of an fp32 student (the run folder is left as it
        is). The version appears by an atomic rename, so Triton never sees a half-written one.
        """
        card = StudentCard.load(student_dir)
        if precision == Precision.FP32 and card.precision != Precision.FP32:
            raise ValueError(
                f"{student_dir} was exported in {card.precision}; it has no fp32 model"
            )
        self._place_template()
        version = (self.versions() or [0])[-1] + 1
        staging = self.model_dir / f".staging-{version}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(student_dir, staging)
        if precision == Precision.INT8:
            # Imported here: the worker reads this module and never quantises.
            from models.export import quantize_student

            quantize_student(staging)
        shutil.copy2(self.model_dir / _BACKEND_FILE, staging / _BACKEND_FILE)
        staging.rename(self.version_dir(version))
        return version

    def set_instances(self, count: int) -> None:
        """The CPU config's instance count (CLINSTREAM_TRITON_INSTANCES), set before Triton
        starts: Triton reads it when it loads the model."""
        self._place_template()
        config = self.model_dir / _CONFIG_FILE
        text = config.read_text()
        wanted = _INSTANCE_COUNT.sub(rf"\g<1>count: {count}", text, 1)
        if wanted != text:  # the default repository is the project's own template folder
            config.write_text(wanted)

    def retire(self, version: int, to: Path) -> None:
        """Move a version out of Triton's sight, keeping it at `to`."""
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(self.version_dir(version), to)

    def confidence_reference(self, version: str) -> list[float] | None:
        """The drift reference saved with a version, where it can be read."""
        try:
            return StudentCard.load(self.version_dir(version)).confidence_reference
        except (FileNotFoundError, ValueError):
            return None

    def _place_template(self) -> None:
        """The config (named as this repository's model) and the entry point, once."""
        for name in (_CONFIG_FILE, _GPU_CONFIG_FILE, _BACKEND_FILE):
            target = self.model_dir / name
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            text = (_TEMPLATE_DIR / name).read_text()
            if name != _BACKEND_FILE:
                text = _CONFIG_NAME.sub(f'name: "{self.name}"', text, count=1)
            target.write_text(text)


def admin_key(triton: TritonSettings, runtime: RuntimeSettings) -> str:
    """The admin key: the setting, else the one kept (mode 0600) in the data dir, made once."""
    if triton.admin_key is not None:
        return triton.admin_key.get_secret_value()
    path = runtime.data_dir / "triton-admin-key"
    if not path.exists():
        runtime.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def load_and_wait(
    triton: TritonSettings, runtime: RuntimeSettings, version: int, timeout_s: float = 120.0
) -> None:
    """Triton reloads the model; with its latest-version policy it then serves `version`.

    Loading is an admin API: the request carries the admin key.
    """
    client = triton_http.InferenceServerClient(f"{triton.host}:{triton.http_port}")
    client.load_model(triton.model_name, headers={ADMIN_HEADER: admin_key(triton, runtime)})
    deadline = time.monotonic() + timeout_s
    while not client.is_model_ready(triton.model_name, str(version)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Triton did not serve {triton.model_name} v{version} in time")
        time.sleep(0.5)
