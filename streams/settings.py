"""Settings of the streaming components, one class each, read from CLINSTREAM_* env vars.

Defaults run the embedded demo on one machine.
"""

import ssl
from pathlib import Path
from typing import Any, Literal

import faust
from faust.types.auth import CredentialsT
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from trainer.settings import PROJECT_ROOT, DataSettings


class KafkaSettings(BaseSettings):
    """Broker address, security and topic names (CLINSTREAM_KAFKA_*); the topics' messages and
    keys are in streams.topics."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_KAFKA_")

    bootstrap: str = Field("127.0.0.1:19092", description="host:port of a Kafka broker.")
    notes_topic: str = "clinical.notes"
    hl7v2_notes_topic: str = "clinical.notes.hl7v2"
    fhir_notes_topic: str = "clinical.notes.fhir"
    fhir_topic: str = Field(
        "clinical.fhir",
        description="FHIR Bundles of what was found (CLINSTREAM_WORKER_FHIR_OUTPUT).",
    )
    entities_topic: str = "clinical.entities"
    ade_topic: str = "clinical.ade"
    ade_cases_topic: str = Field(
        "clinical.ade.cases", description="Deduplicated ADE cases: the signal counts' state."
    )
    ade_signals_topic: str = Field(
        "clinical.ade.signals", description="A drug–event pair becoming or ceasing to be a signal."
    )
    dead_letter_topic: str = "clinical.notes.dlq"
    teacher_requests_topic: str = "clinical.teacher.requests"
    teacher_labels_topic: str = "clinical.teacher.labels"
    drift_topic: str = "clinical.drift"
    decisions_topic: str = "clinical.model.decisions"
    partitions: int = Field(4, ge=1, description="Partitions of topics clinstream creates.")
    # Kafka's own default. Kafka answers a fetch once a record is there; Tansu waits out much of
    # this (streams.transport): 100 ms cut latency a little more but cost the idle broker 5% of a
    # core (2.2% at 500, 0.7% at Faust's 1,500; stop 47).
    fetch_max_wait_ms: int = Field(
        500, ge=0, description="Longest a consumer's fetch waits for records (Faust fixes 1,500)."
    )
    # Tansu (the embedded broker) has no idempotent or transactional producer; use
    # exactly_once only on a Kafka that supports it.
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    # 4 s: a restarted worker's first output 5.8 s after a SIGKILL, measured (10 s: 20.7 s, as
    # Tansu then joins twice: with the dead member, and again once its session ends).
    session_timeout_s: float = Field(
        4.0, gt=0, description="A worker silent this long leaves the group; its partitions move."
    )
    heartbeat_interval_s: float = Field(1.0, gt=0, description="Under a third of the session.")
    commit_interval_s: float = Field(
        1.0, gt=0, description="How often processed offsets are committed: what a crash replays."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = Field(None, description="CA bundle that signed the brokers' certs.")

    def ssl_context(self) -> ssl.SSLContext | None:
        if "SSL" not in self.security_protocol:
            return None
        return ssl.create_default_context(cafile=self.ssl_cafile)

    def client_options(self) -> dict[str, Any]:
        """Security options for aiokafka clients (admin, producers, consumers)."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password and self.sasl_password.get_secret_value(),
            }
        if (context := self.ssl_context()) is not None:
            options["ssl_context"] = context
        return options

    def faust_credentials(self) -> CredentialsT | None:
        """The same options in Faust's terms (its `broker_credentials`)."""
        if self.security_protocol.startswith("SASL"):
            return faust.SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password and self.sasl_password.get_secret_value(),
                mechanism=self.sasl_mechanism,
                ssl_context=self.ssl_context(),
            )
        if self.security_protocol == "SSL":
            return faust.SSLCredentials(self.ssl_context())
        return None


class TritonSettings(BaseSettings):
    """Where the student is served (CLINSTREAM_TRITON_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_TRITON_")

    host: str = "127.0.0.1"
    http_port: int = 18000
    grpc_port: int = 18001
    metrics_port: int = 18002
    model_repository: Path = PROJECT_ROOT / "triton_repo"
    model_name: str = "student"
    timeout_s: float = Field(30.0, gt=0, description="Request deadline, before its length share.")
    timeout_s_per_1k_chars: float = Field(
        0.5, ge=0, description="Added to the deadline per 1,000 characters in the request."
    )
    retries: int = Field(
        2,
        ge=0,
        description="Retries of a request that fails while Triton is ready; then the "
        "batch is split to find the note that fails.",
    )
    outage_backoff_max_s: float = Field(
        10.0, gt=0, description="Longest wait between readiness checks while Triton is down."
    )
    instances: int = Field(
        1,
        ge=1,
        description="Model instances on CPU, each with its share of the cores. On 2 AMD EPYC "
        "cores one instance of two threads served 1.13x the notes of two of one thread (6 "
        "runs each), for 17% more Triton CPU a note and half its memory (README, Performance); "
        "an Intel host with AMX measured the opposite (1.32x): measure yours (bench throughput).",
    )
    device: Literal["auto", "cpu", "gpu"] = Field(
        "auto",
        description="gpu: serve from configs/gpu.pbtxt (KIND_GPU); auto: gpu when this "
        "onnxruntime has CUDA and an NVIDIA GPU is present (pip install -e '.[gpu]').",
    )
    admin_key: SecretStr | None = Field(
        None,
        description="Key that Triton's admin APIs (model load/unload, config, metadata, "
        "statistics...) require; unset: one is made once and kept in the data dir.",
    )

    def deadline_s(self, chars: int) -> float:
        """A request's deadline grows with its work, so a long note is not cut off."""
        return self.timeout_s + self.timeout_s_per_1k_chars * chars / 1000

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
    concurrency: int = Field(
        2,
        ge=1,
        description="Batches in flight at once: while Triton runs one, the worker reads and "
        "publishes another, so neither waits on the other (README, Performance).",
    )
    max_message_bytes: int = Field(
        8 * 1024 * 1024, ge=1, description="Larger messages are dead-lettered before parsing."
    )
    max_note_chars: int = Field(2_000_000, ge=1, description="Longer notes are dead-lettered.")
    chunk_chars: int = Field(
        20_000,
        ge=1000,
        description="Longer notes are cut at line or sentence ends into chunks "
        "of at most this many characters, extracted apart and joined.",
    )
    request_chars: int = Field(
        64_000,
        ge=1000,
        description="Characters of note text per Triton request at most (one chunk at least): "
        "what a request of a long note can make others wait.",
    )
    dead_letter_payload_bytes: int = Field(
        1024 * 1024, ge=0, description="Dead letters keep the original value up to this size."
    )
    fhir_output: bool = Field(
        False, description="Also publish each note's findings as a FHIR R4 Bundle (fhir_topic)."
    )
    bind_host: str = Field("127.0.0.1", description="Address of the metrics and health endpoint.")
    metrics_port: int = Field(19464, description="Prometheus and health endpoint of the worker.")
    lag_interval_s: float = Field(10.0, gt=0, description="How often consumer lag is measured.")
    log_level: str = "info"


class SignalSettings(BaseSettings):
    """Disproportionality signals on the ADE stream (CLINSTREAM_SIGNALS_*): the usual criteria,
    Evans et al. 2001 for the PRR, a lower bound above 1 for the ROR and above 0 for the IC."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_SIGNALS_")

    window_days: float | None = Field(
        None, gt=0, description="Count only cases of the last N days (by case time); None: all."
    )
    min_cases: int = Field(3, ge=1, description="Cases of the pair (a) every criterion needs.")
    prr_min: float = Field(2.0, gt=0)
    chi2_min: float = Field(4.0, ge=0, description="Yates-corrected χ² of the PRR.")
    ror_lower_min: float = Field(1.0, gt=0, description="The ROR's 95% lower bound must exceed.")
    ic025_min: float = Field(0.0, description="The IC's 2.5% lower bound must exceed.")
    # The IC's bound on top of Evans and the ROR: on the synthetic stream of `clinstream bench
    # signals`, every planted pair still flagged and a third as many others.
    require: list[Literal["evans", "ror", "ic"]] = Field(
        ["evans", "ror", "ic"], min_length=1, description="Criteria a signal must meet, all."
    )
    batch_size: int = Field(500, ge=1, description="Cases applied before the pairs are scored.")


# The teacher slice's settings, one class per concern; all read CLINSTREAM_LOOP_* variables.
_LOOP = SettingsConfigDict(env_prefix="CLINSTREAM_LOOP_")


class SamplingSettings(BaseSettings):
    """Which notes go to the teacher."""

    model_config = _LOOP

    sample_rate: float = Field(0.02, ge=0, le=1, description="Share of notes, by note_id hash.")
    uncertainty_threshold: float = Field(
        0.6, ge=0, le=1, description="Also sample notes with an entity less confident than this."
    )
    max_samples_per_minute: int = Field(60, ge=0, description="Caps the teacher's cost.")


class TeacherCallSettings(BaseSettings):
    """Which teacher labels the sampled notes, and how it is called."""

    model_config = _LOOP

    teacher: Literal["lexicon", "llm", "ensemble", "recorded"] = "lexicon"
    teacher_concurrency: int = Field(2, ge=1)
    teacher_timeout_s: float = Field(120.0, gt=0)
    teacher_retries: int = Field(3, ge=0)


class DriftSettings(BaseSettings):
    """The rolling agreement window and when it counts as drift."""

    model_config = _LOOP

    drift_window: int = Field(200, ge=1, description="Samples in the rolling agreement window.")
    drift_threshold: float = Field(0.3, ge=0, le=1, description="Drifted when 1 - F1 is above.")
    psi_threshold: float = Field(0.25, ge=0, description="Drifted when confidence PSI is above.")
    report_interval_s: float = Field(30.0, gt=0)


class RetrainSettings(BaseSettings):
    """The label store's retention, when to retrain, and when a candidate is promoted."""

    model_config = _LOOP

    retrain_every: int = Field(0, ge=0, description="Retrain after this many new samples; 0: off.")
    retrain_on_drift: bool = False
    min_retrain_samples: int = Field(40, ge=2)
    held_out_share: float = Field(0.25, gt=0, lt=1)
    promotion_tolerance: float = Field(
        0.02, ge=0, description="A candidate may lose this much F1 on a type and still win."
    )
    retention_days: int = Field(180, ge=1, description="Label store keeps samples this long.")


class LoopSettings(BaseModel):
    """The teacher slice (CLINSTREAM_LOOP_*), by concern."""

    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    teacher: TeacherCallSettings = Field(default_factory=TeacherCallSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    retraining: RetrainSettings = Field(default_factory=RetrainSettings)

    def groups(self) -> tuple[BaseSettings, ...]:
        return self.sampling, self.teacher, self.drift, self.retraining


class RuntimeSettings(DataSettings):
    """The embedded runtime of `clinstream up` (CLINSTREAM_*)."""

    startup_timeout_s: float = Field(180.0, gt=0)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def label_store(self) -> Path:
        return self.data_dir / "labels.sqlite"
