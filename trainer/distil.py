"""Distillation: a student trained on a teacher's labels, then self-trained on what it finds
with confidence where the teacher found nothing."""

import random
from pathlib import Path

from transformers import AutoTokenizer

from models.backbones import MPNET
from models.decoding import without_drugless_ade
from models.labels import EntityType
from models.network import load_student
from models.settings import StudentSettings
from models.spans import Annotations, Entity
from trainer.corpora import Document
from trainer.evaluate import OUR_TYPES
from trainer.label_errors import with_doubtful_words
from trainer.settings import TrainingSettings
from trainer.train import WEIGHTS_DIR, RunMetrics, predict, train_student, training_device

HELD_OUT_SHARE = 0.1


def held_out(documents: list[Document], seed: int) -> tuple[list[Document], list[Document]]:
    """(to fit, held out): a random tenth of the teacher's labels kept for early stopping and
    the sentence head's operating point, so neither is chosen on gold or on what it fits."""
    shuffled = documents[:]
    random.Random(seed).shuffle(shuffled)
    cut = max(1, int(len(shuffled) * HELD_OUT_SHARE))
    return shuffled[cut:], shuffled[:cut]


def teachers_recipe(teachers: int) -> tuple[StudentSettings, TrainingSettings]:
    """The student and training settings for a student of `teachers` teachers' labels; what
    the environment names wins. From several, the recipe that distilled best (ADE Corpus dev,
    README "A larger encoder: MPNet"): MPNet, 3 epochs at learning rate 5e-5, the sentence
    head's loss at 0.3; with another backbone named, stop 43's MiniLM recipe (the head at 0.3, a
    soup of two students of data-order seeds 13 and 5). One teacher keeps MiniLM, 1.0 and one
    student: at 0.3 the demo's student marked twice the entities its lexicon teacher does on
    real notes."""
    student, training = StudentSettings(), TrainingSettings()
    if teachers < 2:
        return student, training
    chosen: dict[str, object] = {"sentence_loss_weight": 0.3}
    if "backbone" in student.model_fields_set:
        chosen["soup_seeds"] = [5]
    else:
        student = StudentSettings(backbone=MPNET)
        chosen |= {"epochs": 3, "learning_rate": 5e-5}
    return student, training.model_copy(
        update={k: v for k, v in chosen.items() if k not in training.model_fields_set}
    )


def distil_student(
    documents: list[Document],
    output_dir: Path,
    source: str,
    dev: list[Document] | None = None,
    dev_types: dict[EntityType, str] = OUR_TYPES,
    student: StudentSettings | None = None,
    training: TrainingSettings | None = None,
) -> RunMetrics:
    """Train on a teacher's labels (with its likely errors left out, where the settings ask),
    then self-train (BOND, Liang et al. 2020, with hard labels).

    The teacher's misses are the student's misses too unless it gets to learn from what it
    generalises to: each round, the mentions the last student finds with confidence at or above
    the threshold where the teacher found nothing join the labels, and a fresh student trains on
    them. Early stopping uses the same dev set each round.
    """
    student = student or StudentSettings()
    training = training or TrainingSettings()
    if training.ade_needs_drug:
        documents = [with_drugless_ade_dropped(doc) for doc in documents]
        dev = dev and [with_drugless_ade_dropped(doc) for doc in dev]
    if training.label_error_folds >= 2:
        documents = with_doubtful_words(documents, student, training)
    metrics = train_student(documents, output_dir, source, dev, dev_types, student, training)
    device = training_device()
    for _ in range(training.self_training_rounds):
        model = load_student(str(output_dir / WEIGHTS_DIR)).to(device)
        tokenizer = AutoTokenizer.from_pretrained(output_dir)
        found = predict(model, tokenizer, [d.text for d in documents], student, device)
        documents = [
            with_confident_additions(doc, more.entities, training.self_training_threshold)
            for doc, more in zip(documents, found, strict=True)
        ]
        metrics = train_student(
            documents, output_dir, f"{source}+self-training", dev, dev_types, student, training
        )
    return metrics


def with_drugless_ade_dropped(document: Document) -> Document:
    """The labels and each reading without ADE mentions where they name no drug."""
    readings = document.readings and [without_drugless_ade(r) for r in document.readings]
    return document.model_copy(
        update={"labels": without_drugless_ade(document.labels), "readings": readings}
    )


def with_confident_additions(document: Document, found: list[Entity], threshold: float) -> Document:
    labelled = document.labels.entities
    added = [
        e
        for e in found
        if e.confidence >= threshold
        and not any(e.start < other.end and other.start < e.end for other in labelled)
    ]

    def plus_added(labels: Annotations) -> Annotations:
        entities = sorted([*labels.entities, *added], key=lambda e: e.start)
        return labels.model_copy(update={"entities": entities})

    readings = document.readings and [plus_added(reading) for reading in document.readings]
    return document.model_copy(update={"labels": plus_added(document.labels), "readings": readings})
