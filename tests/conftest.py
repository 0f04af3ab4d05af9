"""Shared fixtures: a tiny real student, and the real broker, tritonserver and worker.

The tiny student has the MiniLM tokenizer and a 2-layer encoder, distilled from the lexicon
teacher on synthetic notes for a few seconds: real weights, real ONNX, real decoding.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel, MPNetConfig, MPNetModel

from models.card import StudentCard
from models.export import export_student
from models.network import load_student
from models.settings import DEFAULT_BACKBONE, ExportSettings, Precision, StudentSettings
from streams.ops.demo_corpus import demo_notes
from streams.ops.runtime import EmbeddedRuntime
from streams.ops.services import free_port
from streams.repository import ModelRepository
from streams.settings import (
    KafkaSettings,
    LoopSettings,
    RuntimeSettings,
    TritonSettings,
    WorkerSettings,
)
from trainer.corpora import Document
from trainer.settings import TrainingSettings
from trainer.teachers.lexicon import LexiconTeacher
from trainer.train import WEIGHTS_DIR, train_student

TINY_TRAINING = TrainingSettings(epochs=30, batch_size=16, learning_rate=2e-3, warmup_ratio=0.0)


@pytest.fixture(scope="session")
def teacher() -> LexiconTeacher:
    return LexiconTeacher()


def _tiny_encoder(directory: Path, config_class, model_class, **config) -> Path:
    """A 2-layer, 64-wide encoder of `model_class` with the MiniLM (WordPiece) tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_BACKBONE)
    shape = config_class(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        **config,
    )
    # Seeded: an unseeded start made a different tiny student, finding different things, on
    # each run.
    torch.manual_seed(TINY_TRAINING.seed)
    model_class(shape).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_encoder(tmp_path_factory.mktemp("tiny-backbone"), BertConfig, BertModel)


@pytest.fixture(scope="session")
def tiny_mpnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MPNet, as the several-teacher student's backbone is (relative position buckets, no
    token types)."""
    folder = tmp_path_factory.mktemp("tiny-mpnet")
    # MPNet's own vocabulary pads with 1; the WordPiece one here with [PAD], 0.
    return _tiny_encoder(folder, MPNetConfig, MPNetModel, pad_token_id=0)


@pytest.fixture(scope="session")
def tiny_student(
    tmp_path_factory: pytest.TempPathFactory, tiny_backbone: Path, teacher: LexiconTeacher
) -> Path:
    notes = demo_notes(48, seed=1, prefix="fixture")
    documents = [
        Document(doc_id=note.note_id, text=note.text, labels=teacher.label(note.text))
        for note in notes
    ]
    directory = tmp_path_factory.mktemp("tiny-student")
    train_student(
        documents,
        directory,
        source=teacher.name,
        student=StudentSettings(backbone=str(tiny_backbone), max_length=64, stride=16),
        training=TINY_TRAINING,
    )
    return directory


@pytest.fixture(scope="session")
def fp32_student(tmp_path_factory: pytest.TempPathFactory, tiny_student: Path) -> Path:
    """The tiny student exported in fp32 (the default export is int8)."""
    return export_student(
        load_student(str(tiny_student / WEIGHTS_DIR)),
        AutoTokenizer.from_pretrained(tiny_student),
        StudentCard.load(tiny_student),
        tmp_path_factory.mktemp("fp32-student"),
        ExportSettings(precision=Precision.FP32),
    )


@pytest.fixture(scope="session")
def model_repository(tmp_path_factory: pytest.TempPathFactory, tiny_student: Path) -> Path:
    repository = tmp_path_factory.mktemp("triton-repo")
    ModelRepository(repository, "student").publish(tiny_student)
    return repository


def embedded_runtime(
    tmp_path_factory: pytest.TempPathFactory, repository: Path, loop: LoopSettings
) -> EmbeddedRuntime:
    """The real Tansu broker, tritonserver and Faust worker, on free ports."""
    return EmbeddedRuntime(
        kafka=KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}", partitions=2),
        triton=TritonSettings(
            http_port=free_port(),
            grpc_port=free_port(),
            metrics_port=free_port(),
            model_repository=repository,
            retries=2,
        ),
        worker=WorkerSettings(
            metrics_port=free_port(), batch_size=8, max_note_chars=20_000, fhir_output=True
        ),
        runtime=RuntimeSettings(data_dir=tmp_path_factory.mktemp("data")),
        loop=loop,
    )


@pytest.fixture(scope="session")
def runtime(
    tmp_path_factory: pytest.TempPathFactory, model_repository: Path
) -> Iterator[EmbeddedRuntime]:
    with embedded_runtime(tmp_path_factory, model_repository, LoopSettings()) as embedded:
        yield embedded
