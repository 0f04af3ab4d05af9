"""The student at inference time: ONNX Runtime over windowed notes.

This one class serves the Triton model and offline extraction, so both give the same result.
It imports no torch, which keeps the Triton python-backend stub light.
"""

from pathlib import Path

import numpy as np
import onnxruntime as ort
from transformers import AutoTokenizer

from models.card import ONNX_FILE, StudentCard
from models.decoding import decode_windows, softmax
from models.spans import Annotations
from models.windows import Windows, encode_windows


def execution_providers() -> list[str]:
    """CUDA when this onnxruntime build and machine have it, else CPU."""
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxStudent:
    def __init__(self, directory: Path, window_batch_size: int = 32) -> None:
        self.card = StudentCard.load(directory)
        self.tokenizer = AutoTokenizer.from_pretrained(directory)
        self.session = ort.InferenceSession(
            str(directory / ONNX_FILE), providers=execution_providers()
        )
        self.window_batch_size = window_batch_size

    def extract(self, texts: list[str]) -> list[Annotations]:
        if not texts:
            return []
        windows = encode_windows(self.tokenizer, texts, self.card.max_length, self.card.stride)
        return decode_windows(texts, windows, self._window_probabilities(windows))

    def _window_probabilities(self, windows: Windows) -> np.ndarray:
        input_ids = np.asarray(windows.input_ids, dtype=np.int64)
        attention_mask = np.asarray(windows.attention_mask, dtype=np.int64)
        chunks = []
        for start in range(0, len(input_ids), self.window_batch_size):
            stop = start + self.window_batch_size
            (logits,) = self.session.run(
                ["logits"],
                {"input_ids": input_ids[start:stop], "attention_mask": attention_mask[start:stop]},
            )
            chunks.append(logits)
        return softmax(np.concatenate(chunks))
