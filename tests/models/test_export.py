import json
import shutil

import numpy as np
import onnxruntime as ort
import torch
from transformers import AutoTokenizer

from models.card import ONNX_FILE, StudentCard
from models.export import export_student, quantize_student
from models.network import build_student
from models.onnx_student import OnnxStudent, balanced_shares
from models.settings import ExportSettings, InferenceSettings, Precision, StudentSettings
from streams.ops.demo_corpus import demo_notes, long_demo_note
from trainer.corpora import Document
from trainer.evaluate import MICRO, evaluate
from trainer.settings import TrainingSettings
from trainer.train import WEIGHTS_DIR, train_student


def test_onnx_matches_torch_on_padded_batches_of_other_shapes(
    tiny_student, tiny_backbone, tmp_path
):
    model = build_student(str(tiny_backbone)).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    card = StudentCard.load(tiny_student)
    export_student(model, tokenizer, card, tmp_path, ExportSettings(precision=Precision.FP32))

    # Traced on one 5-token example; run on a padded batch of another shape.
    batch = tokenizer(
        ["short", "a much longer note about warfarin and hematuria in an elderly man"],
        padding=True,
        return_tensors="np",
    )
    session = ort.InferenceSession(str(tmp_path / ONNX_FILE))
    (onnx_logits,) = session.run(
        ["logits"], {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    )
    with torch.no_grad():
        torch_logits = model(
            input_ids=torch.tensor(batch["input_ids"]),
            attention_mask=torch.tensor(batch["attention_mask"]),
        ).logits.numpy()
    mask = batch["attention_mask"].astype(bool)
    np.testing.assert_allclose(onnx_logits[mask], torch_logits[mask], atol=1e-4)


def test_student_finds_entities_across_a_long_note_at_exact_offsets(tiny_student):
    note = long_demo_note(seed=11)
    (annotations,) = OnnxStudent(tiny_student).extract([note.text])
    assert annotations.entities, "a trained student finds something in a dozen notes' text"
    assert all(note.text[e.start : e.end] == e.text for e in annotations.entities)
    # Entities come from the whole note, past the first windows too.
    assert max(e.start for e in annotations.entities) > len(note.text) * 0.8
    starts = [e.start for e in annotations.entities]
    assert starts == sorted(starts)


def test_int8_export_is_smaller_and_finds_what_fp32_finds(tiny_student, fp32_student, tmp_path):
    assert StudentCard.load(tiny_student).precision == Precision.INT8  # the default export
    fp32 = fp32_student
    int8 = tmp_path / "int8"
    shutil.copytree(fp32, int8)
    quantize_student(int8)
    quantize_student(int8)  # a second call leaves an int8 student as it is
    assert StudentCard.load(int8).precision == Precision.INT8
    assert (int8 / ONNX_FILE).stat().st_size < (fp32 / ONNX_FILE).stat().st_size / 2
    texts = [long_demo_note(seed=seed).text for seed in (4, 5)]
    fp32_found = OnnxStudent(fp32).extract(texts)
    int8_found = OnnxStudent(int8).extract(texts)
    assert evaluate(fp32_found, int8_found).strict[MICRO].f1 > 0.9


def test_window_batches_of_any_size_give_the_same_entities(fp32_student):
    texts = [long_demo_note(seed=6).text, "Warfarin.", "No rash on amoxicillin."]
    one_by_one = OnnxStudent(fp32_student, InferenceSettings(window_batch_size=1)).extract(texts)
    assert OnnxStudent(fp32_student, InferenceSettings(window_batch_size=7)).extract(texts) == (
        one_by_one
    )


def test_an_int8_note_gets_the_same_answer_whatever_is_extracted_beside_it(tiny_student):
    """Dynamic quantisation scales activations per run: batched, a note's answer would depend
    on its neighbours, and a re-delivered note could get another one."""
    student = OnnxStudent(tiny_student)
    note, *others = [long_demo_note(seed=seed).text for seed in (7, 8, 9)]
    (alone,) = student.extract([note])
    assert student.extract([*others, note])[-1] == alone


def test_note_threads_give_each_note_the_answer_it_gets_alone(tiny_student):
    texts = [long_demo_note(seed=seed).text for seed in (12, 13)] + ["Warfarin.", "No rash."] * 2
    alone = [
        OnnxStudent(tiny_student, InferenceSettings(note_threads=1)).extract([t])[0] for t in texts
    ]
    assert OnnxStudent(tiny_student, InferenceSettings(note_threads=3)).extract(texts) == alone


def test_notes_are_shared_out_by_length():
    assert balanced_shares([5, 1, 1, 1, 1, 1], 2) == [[0], [1, 2, 3, 4, 5]]
    assert balanced_shares([1, 2], 4) == [[1], [0]]
    assert balanced_shares([], 2) == []


def test_a_student_of_fewer_layers_keeps_the_backbones_lowest(tiny_backbone, teacher, tmp_path):
    full, shallow = build_student(str(tiny_backbone)), build_student(str(tiny_backbone), layers=1)
    assert (full.config.num_hidden_layers, shallow.config.num_hidden_layers) == (2, 1)
    assert torch.equal(
        full.bert.encoder.layer[0].output.dense.weight,
        shallow.bert.encoder.layer[0].output.dense.weight,
    )
    # Trained and exported, it keeps its depth: the served graph runs one layer.
    notes = [note.text for note in demo_notes(8, seed=1, prefix="shallow")]
    documents = [Document(doc_id=str(i), text=text, labels=teacher.label(text))
                 for i, text in enumerate(notes)]  # fmt: skip
    settings = StudentSettings(backbone=str(tiny_backbone), max_length=32, stride=8, layers=1)
    train_student(documents, tmp_path, "lexicon", student=settings,
                  training=TrainingSettings(epochs=1))  # fmt: skip
    assert (
        json.loads((tmp_path / WEIGHTS_DIR / "config.json").read_text())["num_hidden_layers"] == 1
    )
    assert len(OnnxStudent(tmp_path).extract(notes[:2])) == 2
