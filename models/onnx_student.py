"""The student at inference time: ONNX Runtime over windowed notes.

This one class serves the Triton model and offline extraction, so both give the same result.
It imports no torch, which keeps the Triton python-backend stub light.
"""

from pathlib import Path

import numpy as np
import onnxruntime as ort
from transformers import AutoTokenizer

from models.card import ONNX_FILE, StudentCard
from models.decoding import annotate, decode_entities
from models.spans import Annotations
from models.windows import encode_windows, first_subword_positions, word_spans


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
        probabilities = self._window_probabilities(windows)
        spans_by_note = [word_spans(windows, note) for note in range(len(texts))]
        firsts = first_subword_positions(windows, spans_by_note)

        # A word seen in two windows gets the mean of both predictions.
        sums: list[dict[int, np.ndarray]] = [{} for _ in texts]
        counts: list[dict[int, int]] = [{} for _ in texts]
        for window, words in enumerate(firsts):
            note = windows.note_index[window]
            for position, word in enumerate(words):
                if word is None:
                    continue
                sums[note][word] = sums[note].get(word, 0) + probabilities[window, position]
                counts[note][word] = counts[note].get(word, 0) + 1

        outputs = []
        for note, text in enumerate(texts):
            word_probabilities = {w: s / counts[note][w] for w, s in sums[note].items()}
            entities = decode_entities(text, spans_by_note[note], word_probabilities)
            outputs.append(annotate(text, entities))
        return outputs

    def _window_probabilities(self, windows) -> np.ndarray:
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
        logits = np.concatenate(chunks)
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)
