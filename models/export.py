"""Export of a trained student to a self-contained ONNX directory."""

import warnings
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from models.card import ONNX_FILE, StudentCard


def export_student(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    card: StudentCard,
    directory: Path,
) -> Path:
    """Write model.onnx, the tokenizer and the card; the directory then serves on its own."""
    directory.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").eval()
    example = tokenizer(["a b c"], return_tensors="pt")
    dynamic = {0: "windows", 1: "tokens"}
    # The tracer warns about shape-dependent branches in BERT's masking; the export is checked
    # against torch on padded batches of other shapes in tests/models/test_export.py.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example["input_ids"], example["attention_mask"]),
            str(directory / ONNX_FILE),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "logits": dynamic},
            opset_version=17,
            # The TorchScript exporter needs no onnxscript and handles BERT's dynamic shapes.
            dynamo=False,
        )
    tokenizer.save_pretrained(directory)
    card.save(directory)
    return directory
