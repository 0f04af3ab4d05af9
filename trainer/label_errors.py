"""The teacher's likely errors: words whose label students that never saw them confidently
contradict.

The documents are cut into folds; a student fitted on the other folds gives each word of the
held-out fold its label probabilities, and cleanlab's confident learning (Northcutt et al.
2021) flags the words whose given label those out-of-fold probabilities make unlikely, per
label and relative to how sure the students are of that label elsewhere. The final student
then trains with those words left out of the loss (`Document.doubtful`).
"""

import logging
import random

import numpy as np
from cleanlab.token_classification.filter import find_label_issues

from models.decoding import word_probabilities
from models.labels import IGNORE_INDEX, LABELS
from models.settings import StudentSettings
from models.windows import first_subword_positions, label_windows, word_spans
from trainer.corpora import Document
from trainer.evaluate import OUR_TYPES
from trainer.settings import TrainingSettings
from trainer.targets import spans
from trainer.train import fit_model, training_device, window_outputs

log = logging.getLogger(__name__)


def with_doubtful_words(
    documents: list[Document], student: StudentSettings, training: TrainingSettings
) -> list[Document]:
    """The documents, each with the words cleanlab flags in its labels marked doubtful."""
    folds = training.label_error_folds
    order = list(range(len(documents)))
    random.Random(training.seed).shuffle(order)
    fold_of = {index: position % folds for position, index in enumerate(order)}
    quick = training.model_copy(update={"epochs": training.label_error_epochs, "soup_seeds": []})
    given: list[list[int]] = [[] for _ in documents]
    probabilities: list[np.ndarray] = [np.zeros((0, len(LABELS))) for _ in documents]
    word_offsets: list[list[tuple[int, int]]] = [[] for _ in documents]
    for fold in range(folds):
        fit = [doc for i, doc in enumerate(documents) if fold_of[i] != fold]
        held = [i for i in range(len(documents)) if fold_of[i] == fold]
        fitted = fit_model(fit, None, OUR_TYPES, student, quick)
        texts = [documents[i].text for i in held]
        windows, outputs = window_outputs(
            fitted.model, fitted.tokenizer, texts, student, training_device()
        )
        note_spans, note_probabilities = word_probabilities(texts, windows, outputs)
        labels = _word_labels(windows, [documents[i] for i in held])
        for position, index in enumerate(held):
            label_probabilities = note_probabilities[position][:, : len(LABELS)]
            probabilities[index] = label_probabilities / label_probabilities.sum(1, keepdims=True)
            given[index] = labels[position]
            word_offsets[index] = note_spans[position]
    kept = [i for i, words in enumerate(given) if words]
    issues = find_label_issues([given[i] for i in kept], [probabilities[i] for i in kept])
    doubtful: list[list[tuple[int, int]]] = [[] for _ in documents]
    for sentence, word in issues:
        doubtful[kept[sentence]].append(word_offsets[kept[sentence]][word])
    log.info(
        "label errors: %d of %d words doubtful, in %d of %d documents",
        len(issues), sum(map(len, given)), sum(map(bool, doubtful)), len(documents),
    )  # fmt: skip
    return [
        doc.model_copy(update={"doubtful": sorted(words)})
        for doc, words in zip(documents, doubtful, strict=True)
    ]


def _word_labels(windows, documents: list[Document]) -> list[list[int]]:
    """Per document, the label id of each word in word order, as training sees them."""
    targets = label_windows(windows, [spans(doc.labels) for doc in documents])
    firsts = first_subword_positions(windows, word_spans(windows, len(documents)))
    by_word: list[dict[int, int]] = [{} for _ in documents]
    for window, words in enumerate(firsts):
        for word, label in zip(words, targets[window], strict=True):
            if word is not None and label != IGNORE_INDEX:
                by_word[windows.note_index[window]][word] = label
    return [[labels[word] for word in sorted(labels)] for labels in by_word]
