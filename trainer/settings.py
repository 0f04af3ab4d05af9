"""Settings of distillation runs (CLINSTREAM_TRAIN_* env vars)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_TRAIN_")

    epochs: int = Field(5, ge=1)
    batch_size: int = Field(8, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    seed: int = 13
    patience: int = Field(2, ge=1, description="Epochs without dev improvement before stopping.")
    class_weight_power: float = Field(
        0.5, ge=0, description="0: no class weighting; 1: inverse label frequency."
    )
    demo_train_notes: int = Field(160, ge=1, description="Synthetic notes the demo distils on.")
