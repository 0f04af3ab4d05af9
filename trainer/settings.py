"""Settings of distillation runs (CLINSTREAM_TRAIN_* env vars), and where data is kept."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class DataSettings(BaseSettings):
    """Where clinstream keeps its files (CLINSTREAM_DATA_DIR): caches, runs, logs, labels."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_")

    data_dir: Path = PROJECT_ROOT / ".clinstream"


class TrainingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_TRAIN_")

    epochs: int = Field(
        5,
        ge=1,
        description="Unset, `clinstream train` given several --labels uses 3 on MPNet "
        "(trainer/distil.py).",
    )
    batch_size: int = Field(8, ge=1)
    group_by_length: bool = Field(
        True,
        description="Batch windows of similar length (transformers' length-grouped sampling), "
        "so a batch carries less padding: training runs faster for the same updates.",
    )
    learning_rate: float = Field(
        2e-4,
        gt=0,
        description="Unset, `clinstream train` given several --labels uses 5e-5 on "
        "MPNet (trainer/distil.py).",
    )
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    seed: int = 13
    patience: int = Field(2, ge=1, description="Epochs without dev improvement before stopping.")
    class_weight_power: float = Field(
        0.0,
        ge=0,
        description="0: no class weighting; 1: inverse label frequency. Off: on recorded LLM "
        "labels weighting bought recall with precision at the same F1; on lexicon labels it "
        "moved no type by a point.",
    )
    o_token_keep: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Share of O-labelled tokens that count in the loss, drawn anew each batch. "
        "Below 1, a mention the teacher missed costs the student less (negative sampling, "
        "Li et al. 2021).",
    )
    one_drug_per_mention: bool = Field(
        True,
        description="Split DRUG labels at coordinations ('X and Y' -> X, Y), as the gold "
        "corpora label them; LLM teachers often merge them.",
    )
    abbreviations_apart: bool = Field(
        True,
        description="Split labels that end in a bracketed abbreviation ('heart failure (HF)' "
        "-> 'heart failure', 'HF'), as ADE Corpus and BC5CDR label them; LLM teachers often "
        "merge them. ADE Corpus dev, the several-teacher student (stop 43): relation ADE +3.5, "
        "alerts +4.0; PHEE's gold is mixed, and its LLM-written student lost 3.1 effect F1.",
    )
    soft_targets: bool = Field(
        False,
        description="With several teachers: each word's target is the share of teachers that "
        "give it each label, so the student learns their agreement, not only their vote.",
    )
    loss: Literal["cross_entropy", "generalised_cross_entropy"] = Field(
        "cross_entropy",
        description="generalised_cross_entropy (Zhang & Sabuncu 2018) bounds the cost of a "
        "confidently wrong label, so the student copies fewer of a teacher's errors.",
    )
    gce_q: float = Field(
        0.7, gt=0, le=1, description="q of generalised cross-entropy: 1 is MAE, near 0 is CE."
    )
    self_training_rounds: int = Field(
        0,
        ge=0,
        description="Distillation only: rounds in which the student's confident mentions that "
        "no teacher mention overlaps join the teacher's labels and a fresh student trains.",
    )
    sentence_head: bool = Field(
        True,
        description="Train the sentence head beside the token labels and gate ADE mentions by "
        "it; off: a student of BIO labels alone, nothing gated.",
    )
    sentence_loss_weight: float = Field(
        1.0,
        gt=0,
        description="Weight of the sentence head's loss beside the token labels' (1: equal). "
        "The head's loss cost the token labels 1.5 points of relation ADE at 1 (stop 34); "
        "unset, `clinstream train` given several --labels uses 0.3 (trainer/distil.py).",
    )
    soup_seeds: list[int] = Field(
        default_factory=list,
        description="Data-order seeds of more students, each fitted from the same initialisation "
        "(`seed`) as the first, whose weights are then averaged with it (a uniform model soup, "
        "Wortsman et al. 2022); each costs one more training. Unset, `clinstream train` given "
        "several --labels and a backbone named uses [5] (trainer/distil.py).",
    )
    ade_needs_drug: bool = Field(
        True,
        description="Distillation only: a teacher's ADE mentions in a note where it names no "
        "drug are dropped from the labels (and the held-out tenth), as the student's are at "
        "inference (CLINSTREAM_INFERENCE_ADE_NEEDS_DRUG). ADE Corpus dev, one student (stop "
        "41): DRUG +1.3, gated all-sentence ADE F1 +2.0 at 3.7 points more recall.",
    )
    label_error_folds: int = Field(
        0,
        ge=0,
        description="Distillation only: 2 or more finds the teacher's likely errors first: "
        "students fitted on the other folds give each word out-of-fold probabilities, "
        "cleanlab flags the words whose label they make unlikely, and the student trains "
        "without them. 0: off.",
    )
    label_error_epochs: int = Field(
        2, ge=1, description="Epochs of each fold's student that looks for label errors."
    )
    self_training_threshold: float = Field(
        0.9, gt=0, le=1, description="Confidence a student mention needs to join the labels."
    )
    demo_train_notes: int = Field(160, ge=1, description="Synthetic notes the demo distils on.")


class AdaptSettings(BaseSettings):
    """Masked-LM adaptation runs (CLINSTREAM_ADAPT_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_ADAPT_")

    steps: int = Field(2000, ge=1, description="Optimiser steps.")
    head_warmup_steps: int = Field(
        200,
        ge=0,
        description="First steps that train only the masked-LM head (MiniLM ships without one).",
    )
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(5e-5, gt=0)
    warmup_ratio: float = Field(0.06, ge=0, le=1)
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="Share of tokens masked.")
    held_out: float = Field(0.02, gt=0, lt=1, description="Share of windows kept to score.")
    seed: int = 13
