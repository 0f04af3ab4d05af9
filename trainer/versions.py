"""Publishing a trained student as the next version of the Triton model `student`."""

import shutil
from pathlib import Path

from models.card import StudentCard
from models.export import quantize_student
from models.settings import Precision

MODEL_NAME = "student"
# The python-backend entry point and config, kept once at the root of the model folder and
# placed in every version as Triton expects.
_BACKEND_FILE = "model.py"
_CONFIG_FILE = "config.pbtxt"
# Triton's --model-config-name=gpu reads configs/gpu.pbtxt: the same model on KIND_GPU.
GPU_CONFIG = "gpu"
_GPU_CONFIG_FILE = Path("configs") / f"{GPU_CONFIG}.pbtxt"
_PROJECT_MODEL_DIR = Path(__file__).resolve().parents[1] / "triton_repo" / MODEL_NAME


def versions(repository: Path) -> list[int]:
    model_dir = repository / MODEL_NAME
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def publish_version(student_dir: Path, repository: Path, precision: Precision | None = None) -> int:
    """Copy an exported student into `<repository>/student/<N+1>/`; returns N+1.

    `precision` int8 quantises the copy of an fp32 student (the run folder is left as it is).
    The version appears by an atomic rename, so Triton never sees a half-written version.
    """
    card = StudentCard.load(student_dir)
    if precision == Precision.FP32 and card.precision != Precision.FP32:
        raise ValueError(f"{student_dir} was exported in {card.precision}; it has no fp32 model")
    model_dir = repository / MODEL_NAME
    model_dir.mkdir(parents=True, exist_ok=True)
    for name in (_CONFIG_FILE, _GPU_CONFIG_FILE, _BACKEND_FILE):
        if not (model_dir / name).exists():
            (model_dir / name).parent.mkdir(exist_ok=True)
            shutil.copy2(_PROJECT_MODEL_DIR / name, model_dir / name)

    version = (versions(repository) or [0])[-1] + 1
    staging = model_dir / f".staging-{version}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(student_dir, staging)
    if precision == Precision.INT8:
        quantize_student(staging)
    shutil.copy2(model_dir / _BACKEND_FILE, staging / _BACKEND_FILE)
    staging.rename(model_dir / str(version))
    return version
