import numpy as np
import onnxruntime as ort
import torch
from transformers import AutoTokenizer

from models.card import ONNX_FILE, StudentCard
from models.export import export_student
from models.network import build_student
from models.onnx_student import OnnxStudent
from trainer.demo_corpus import long_demo_note


def test_onnx_matches_torch_on_padded_batches_of_other_shapes(
    tiny_student, tiny_backbone, tmp_path
):
    model = build_student(str(tiny_backbone)).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    export_student(model, tokenizer, StudentCard.load(tiny_student), tmp_path)

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
