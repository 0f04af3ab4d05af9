"""The teacher's likely errors, found by out-of-fold students and cleanlab, and left out."""

from models.labels import EntityType
from models.settings import StudentSettings
from models.spans import Annotations, Entity
from tests.conftest import TINY_TRAINING
from trainer.corpora import Document
from trainer.distil import distil_student
from trainer.label_errors import with_doubtful_words

DRUGS = ["amoxicillin", "warfarin", "metformin", "lisinopril"]


def _document(number: int, drug: str, labelled_as: EntityType | None) -> Document:
    """ "Patient N was given DRUG and got a rash.", the rash an ADE, the drug as labelled."""
    text = f"Patient {number} was given {drug} and got a rash."
    mentions = [(drug, labelled_as), ("rash", EntityType.ADE)]
    entities = [
        Entity(type=kind, start=text.index(words), end=text.index(words) + len(words),
               text=words, confidence=1.0)
        for words, kind in mentions if kind is not None
    ]  # fmt: skip
    return Document(doc_id=str(number), text=text,
                    labels=Annotations(entities=entities, ade_pairs=[]))  # fmt: skip


def test_a_label_the_other_folds_contradict_is_doubtful_and_left_out(tiny_backbone, tmp_path):
    documents = [_document(n, DRUGS[n % 4], EntityType.DRUG) for n in range(40)]
    documents[7] = _document(7, DRUGS[3], None)  # the teacher missed this drug
    documents[9] = _document(9, DRUGS[1], EntityType.ADE)  # and called this one an effect
    student = StudentSettings(backbone=str(tiny_backbone), max_length=32, stride=8)
    training = TINY_TRAINING.model_copy(
        update={"label_error_folds": 2, "label_error_epochs": 20, "epochs": 1}
    )
    marked = with_doubtful_words(documents, student, training)
    doubtful = {doc.doc_id: doc.doubtful for doc in marked}
    for number in (7, 9):
        text = documents[number].text
        assert [text[s:e] for s, e in doubtful[str(number)]] == [DRUGS[number % 4]]
    assert sum(bool(words) for words in doubtful.values()) <= 6  # a tiny model errs too
    # Distillation with the setting on marks them too, and trains.
    metrics = distil_student(documents, tmp_path, "teacher", student=student, training=training)
    assert metrics.train_documents == 40
