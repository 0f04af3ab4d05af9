"""Soft targets from several teachers, the losses the student trains with, and its batches."""

import pytest
import torch
from transformers import AutoTokenizer

import trainer.train as train_module
from models.labels import IGNORE_INDEX, LABEL_TO_ID, LABELS, OUTSIDE, EntityType
from models.settings import StudentSettings
from models.spans import Annotations, Entity
from models.windows import encode_windows, label_windows
from tests.conftest import TINY_TRAINING
from trainer.corpora import Document
from trainer.settings import TrainingSettings
from trainer.targets import loss, target_distributions
from trainer.train import _epoch_order, fit_model, train_student

TEXT = "severe rash after amoxicillin"


def _reading(*spans: tuple[int, int, EntityType]) -> Annotations:
    return Annotations(
        entities=[Entity(type=t, start=s, end=e, text=TEXT[s:e], confidence=1.0)
                  for s, e, t in spans],
        ade_pairs=[],
    )  # fmt: skip


DRUG = (18, 29, EntityType.DRUG)
READINGS = [
    _reading((0, 11, EntityType.ADE), DRUG),  # "severe rash"
    _reading((7, 11, EntityType.ADE), DRUG),  # "rash"
    _reading(DRUG),  # no effect
]


def _windows_and_targets(tiny_backbone, documents):
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    windows = encode_windows(tokenizer, [d.text for d in documents], 64, 16)
    spans = [[(e.start, e.end, e.type.value) for e in d.labels.entities] for d in documents]
    return windows, torch.tensor(label_windows(windows, spans))


def _word_rows(targets: torch.Tensor) -> torch.Tensor:
    """Positions of the labelled (first sub-word) tokens of window 0."""
    return (targets[0] != IGNORE_INDEX).nonzero().flatten()


def test_soft_targets_are_each_words_share_of_teacher_labels(tiny_backbone):
    documents = [Document(doc_id="n", text=TEXT, labels=READINGS[0], readings=READINGS)]
    windows, targets = _windows_and_targets(tiny_backbone, documents)
    shares = target_distributions(windows, documents, targets, soft=True)
    severe, rash, after, drug = (shares[0, row] for row in _word_rows(targets))
    third, two_thirds = pytest.approx(1 / 3, abs=1e-6), pytest.approx(2 / 3, abs=1e-6)
    assert severe[LABEL_TO_ID["B-ADE"]] == third and severe[LABEL_TO_ID[OUTSIDE]] == two_thirds
    # Two teachers call "rash" an effect (one as its start, one inside a longer span).
    assert rash[LABEL_TO_ID["B-ADE"]] == third and rash[LABEL_TO_ID["I-ADE"]] == third
    assert after[LABEL_TO_ID[OUTSIDE]] == 1
    assert drug[LABEL_TO_ID["B-DRUG"]] == 1
    assert torch.allclose(shares.sum(-1), torch.ones(shares.shape[:2]))


def test_without_soft_targets_the_vote_is_one_hot(tiny_backbone):
    documents = [Document(doc_id="n", text=TEXT, labels=READINGS[1], readings=READINGS)]
    windows, targets = _windows_and_targets(tiny_backbone, documents)
    one_hot = target_distributions(windows, documents, targets, soft=False)
    rows = _word_rows(targets)
    assert torch.equal(one_hot[0, rows].argmax(-1), targets[0, rows])
    assert torch.equal(one_hot[0, rows].sum(-1), torch.ones(len(rows)))


def test_notes_with_different_numbers_of_readings_are_refused(tiny_backbone):
    documents = [
        Document(doc_id="a", text=TEXT, labels=READINGS[0], readings=READINGS),
        Document(doc_id="b", text=TEXT, labels=READINGS[0], readings=READINGS[:2]),
    ]
    windows, targets = _windows_and_targets(tiny_backbone, documents)
    with pytest.raises(ValueError, match="same number of readings"):
        target_distributions(windows, documents, targets, soft=True)


def test_cross_entropy_on_one_hot_targets_is_torchs_weighted_cross_entropy():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 7, len(LABELS), generator=generator)
    targets = torch.randint(0, len(LABELS), (2, 7), generator=generator)
    targets[0, :2] = IGNORE_INDEX
    weights = torch.rand(len(LABELS), generator=generator) + 0.5
    ours = loss(
        logits,
        torch.nn.functional.one_hot(targets.clamp(min=0), len(LABELS)).float(),
        ignored=targets == IGNORE_INDEX,
        class_weights=weights,
        training=TrainingSettings(),
    )
    torchs = torch.nn.CrossEntropyLoss(weight=weights, ignore_index=IGNORE_INDEX)(
        logits.reshape(-1, len(LABELS)), targets.reshape(-1)
    )
    assert ours.item() == pytest.approx(torchs.item(), rel=1e-5)


def test_generalised_cross_entropy_bounds_the_cost_of_a_confident_wrong_label():
    """The point of GCE: a label the network is sure is wrong (a teacher error) costs at most
    1/q, where cross-entropy grows without bound."""
    logits = torch.tensor([[[-30.0, 30.0] + [0.0] * (len(LABELS) - 2)]])
    wrong = torch.nn.functional.one_hot(torch.tensor([[0]]), len(LABELS)).float()
    kwargs = {"ignored": torch.zeros(1, 1, dtype=torch.bool),
              "class_weights": torch.ones(len(LABELS))}  # fmt: skip
    gce = TrainingSettings(loss="generalised_cross_entropy", gce_q=0.7)
    assert loss(logits, wrong, training=gce, **kwargs).item() == pytest.approx(1 / 0.7)
    assert loss(logits, wrong, training=TrainingSettings(), **kwargs).item() > 50


def test_a_student_trains_on_soft_targets_with_generalised_cross_entropy(
    tiny_backbone, teacher, tmp_path
):
    """Three readings of the lexicon teacher's labels, one of them without drugs."""
    texts = ["Started amoxicillin for otitis.", "Metformin 500 mg daily; no rash.",
             "Lisinopril caused a cough."] * 4  # fmt: skip
    documents = []
    for number, text in enumerate(texts):
        labels = teacher.label(text)
        without_drugs = labels.model_copy(
            update={"entities": [e for e in labels.entities if e.type != EntityType.DRUG]}
        )
        documents.append(Document(doc_id=str(number), text=text, labels=labels,
                                  readings=[labels, labels, without_drugs]))  # fmt: skip
    training = TINY_TRAINING.model_copy(
        update={"epochs": 2, "soft_targets": True, "loss": "generalised_cross_entropy"}
    )
    metrics = train_student(
        documents, tmp_path, "three readings",
        student=StudentSettings(backbone=str(tiny_backbone), max_length=64, stride=16),
        training=training,
    )  # fmt: skip
    assert len(metrics.epochs) == 2
    assert all(0 < epoch.train_loss < 1 / 0.7 for epoch in metrics.epochs)


def test_a_soup_averages_students_of_one_start_and_other_data_orders(
    tiny_backbone, teacher, monkeypatch
):
    # Distinct texts of one length: length-grouped batches still come in the seed's order.
    drugs = ("Amoxicillin", "Lisinopril", "Metformin", "Ibuprofen", "Warfarin", "Aspirin")
    texts = [f"{drug} caused a rash." for drug in drugs]
    documents = [Document(doc_id=str(n), text=t, labels=teacher.label(t))
                 for n, t in enumerate(texts)]  # fmt: skip
    student = StudentSettings(backbone=str(tiny_backbone), max_length=64, stride=16)
    members = []
    fit_one = train_module._fit

    def fit_and_keep(model, *args):
        fitted = fit_one(model, *args)
        members.append({k: v.clone() for k, v in model.state_dict().items()})
        return fitted

    monkeypatch.setattr(train_module, "_fit", fit_and_keep)

    def soup(*seeds: int):
        members.clear()
        training = TINY_TRAINING.model_copy(
            update={"epochs": 1, "batch_size": 2, "soup_seeds": list(seeds)}
        )
        return fit_model(documents, None, {}, student, training)

    soup(TINY_TRAINING.seed)  # a second student of the same order: the same start, same weights
    assert all(torch.equal(members[0][k], members[1][k]) for k in members[0])

    fitted = soup(5)
    assert [epoch.member for epoch in fitted.epochs] == [0, 1]
    averaged = fitted.model.state_dict()
    name = "classifier.weight"
    assert not torch.equal(members[0][name], members[1][name])
    assert torch.allclose(averaged[name], (members[0][name] + members[1][name]) / 2)


def test_length_grouped_batches_cover_every_window_with_less_padding():
    lengths = torch.randint(4, 64, (400,), generator=torch.Generator().manual_seed(1))
    attention_mask = (torch.arange(64) < lengths[:, None]).long()

    def padded_tokens(group_by_length: bool) -> int:
        training = TrainingSettings(batch_size=8, group_by_length=group_by_length)
        order = _epoch_order(attention_mask, training, torch.Generator().manual_seed(2))
        assert sorted(order.tolist()) == list(range(400))
        return sum(int(lengths[batch].max()) * len(batch) for batch in order.split(8))

    assert padded_tokens(True) < 0.7 * padded_tokens(False)
