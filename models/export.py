"""Export of a trained student to a self-contained ONNX directory."""

import logging
import os
import warnings
from pathlib import Path

import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from models.card import ONNX_FILE, StudentCard
from models.settings import ExportSettings, Precision


def export_student(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    card: StudentCard,
    directory: Path,
    settings: ExportSettings | None = None,
) -> Path:
    """Write model.onnx (in the precision of `settings`), the tokenizer and the card; the
    directory then serves on its own."""
    settings = settings or ExportSettings()
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
    card.model_copy(update={"precision": Precision.FP32}).save(directory)
    if settings.precision == Precision.INT8:
        quantize_student(directory)
    return directory


def _without_quantiser_chatter(record: logging.LogRecord) -> bool:
    """The quantiser logs on the root logger: a line per unquantised tensor, and advice to
    pre-process whose shape inference fails on the student's dynamic axes (and the model is
    as fast without it)."""
    return f"onnxruntime{os.sep}quantization" not in record.pathname


def quantize_student(directory: Path) -> None:
    """An exported fp32 student -> int8, in place (a no-op on an int8 one).

    Dynamic quantisation: weights per output channel (per-tensor scales cost a BERT student
    several points of agreement with its fp32 self), activations quantised at run time, so no
    calibration data is needed.
    """
    card = StudentCard.load(directory)
    if card.precision == Precision.INT8:
        return
    onnx_file = directory / ONNX_FILE
    fp32 = onnx_file.with_suffix(".fp32.onnx")
    onnx_file.rename(fp32)
    root = logging.getLogger()
    root.addFilter(_without_quantiser_chatter)
    try:
        quantize_dynamic(fp32, onnx_file, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeFilter(_without_quantiser_chatter)
    fp32.unlink()
    card.model_copy(update={"precision": Precision.INT8}).save(directory)
