"""Settings of the streaming components, one class each, read from CLINSTREAM_* env vars.

Defaults run the embedded demo on one machine.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class KafkaSettings(BaseSettings):
    """Broker address and topic names (CLINSTREAM_KAFKA_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_KAFKA_")

    bootstrap: str = Field("127.0.0.1:19092", description="host:port of a Kafka broker.")
    notes_topic: str = "clinical.notes"
    entities_topic: str = "clinical.entities"
    ade_topic: str = "clinical.ade"
    dead_letter_topic: str = "clinical.notes.dlq"
    teacher_requests_topic: str = "clinical.teacher.requests"
    teacher_labels_topic: str = "clinical.teacher.labels"
    drift_topic: str = "clinical.drift"
    decisions_topic: str = "clinical.model.decisions"
    partitions: int = Field(4, ge=1, description="Partitions of topics clinstream creates.")
    # Tansu (the embedded broker) has no idempotent or transactional producer; use
    # exactly_once only on a Kafka that supports it.
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"

    @property
    def topics(self) -> list[str]:
        return [
            self.notes_topic,
            self.entities_topic,
            self.ade_topic,
            self.dead_letter_topic,
            self.teacher_requests_topic,
            self.teacher_labels_topic,
            self.drift_topic,
            self.decisions_topic,
        ]


class TritonSettings(BaseSettings):
    """Where the student is served (CLINSTREAM_TRITON_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_TRITON_")

    host: str = "127.0.0.1"
    http_port: int = 18000
    grpc_port: int = 18001
    metrics_port: int = 18002
    model_repository: Path = PROJECT_ROOT / "triton_repo"
    model_name: str = "student"
    timeout_s: float = Field(30.0, gt=0, description="Per-request timeout of the worker.")
    retries: int = Field(5, ge=0, description="Retries of a failed request before dead-letter.")

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"


class WorkerSettings(BaseSettings):
    """The Faust extraction worker (CLINSTREAM_WORKER_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_WORKER_")

    app_id: str = "clinstream"
    batch_size: int = Field(16, ge=1, le=64, description="Notes per Triton request.")
    batch_within_s: float = Field(0.2, gt=0, description="Longest wait to fill a batch.")
    max_note_chars: int = Field(200_000, ge=1, description="Longer notes are dead-lettered.")
    metrics_port: int = Field(19464, description="Prometheus endpoint of the worker.")
    log_level: str = "info"


class LoopSettings(BaseSettings):
    """The teacher slice: sampling, teacher, drift, label store, retraining
    (CLINSTREAM_LOOP_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_LOOP_")

    sample_rate: float = Field(0.02, ge=0, le=1, description="Share of notes, by note_id hash.")
    uncertainty_threshold: float = Field(
        0.6, ge=0, le=1, description="Also sample notes with an entity less confident than this."
    )
    max_samples_per_minute: int = Field(60, ge=0, description="Caps the teacher's cost.")
    teacher: Literal["lexicon", "llm", "ensemble"] = "lexicon"
    teacher_concurrency: int = Field(2, ge=1)
    teacher_timeout_s: float = Field(120.0, gt=0)
    teacher_retries: int = Field(3, ge=0)
    drift_window: int = Field(200, ge=1, description="Samples in the rolling agreement window.")
    drift_threshold: float = Field(0.3, ge=0, le=1, description="Drifted when 1 - F1 is above.")
    psi_threshold: float = Field(0.25, ge=0, description="Drifted when confidence PSI is above.")
    report_interval_s: float = Field(30.0, gt=0)
    retrain_every: int = Field(0, ge=0, description="Retrain after this many new samples; 0: off.")
    retrain_on_drift: bool = False
    min_retrain_samples: int = Field(40, ge=2)
    held_out_share: float = Field(0.25, gt=0, lt=1)
    promotion_tolerance: float = Field(
        0.02, ge=0, description="A candidate may lose this much F1 on a type and still win."
    )
    retention_days: int = Field(180, ge=1, description="Label store keeps samples this long.")


class RuntimeSettings(BaseSettings):
    """The embedded runtime of `clinstream up` (CLINSTREAM_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_")

    data_dir: Path = PROJECT_ROOT / ".clinstream"
    startup_timeout_s: float = Field(180.0, gt=0)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def label_store(self) -> Path:
        return self.data_dir / "labels.sqlite"
