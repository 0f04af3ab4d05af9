"""The student at inference time: ONNX Runtime over windowed notes.

This one class serves the Triton model and offline extraction, so both give the same result.
It imports no torch, which keeps the Triton python-backend stub light.
"""

import copy
import os
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
from transformers import AutoTokenizer

from models.card import ONNX_FILE, StudentCard
from models.decoding import decode_windows, output_probabilities
from models.pairing import PairModel
from models.settings import InferenceSettings, Precision
from models.spans import Annotations
from models.windows import Windows, encode_windows


def execution_providers() -> list[str]:
    """CUDA when this onnxruntime build and machine have it, else CPU."""
    return (
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if cuda_ready()
        else ["CPUExecutionProvider"]
    )


def cuda_ready() -> bool:
    """This onnxruntime build has CUDA (the `[gpu]` extra) and the machine an NVIDIA GPU: a
    CUDA build lists its provider even where no GPU is."""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return False
    return b"GPU" in listed.stdout


def thread_layout(
    settings: InferenceSettings, instances: int, gpu: bool = False
) -> tuple[int, int]:
    """Note threads and intra-op threads of each of `instances` sessions: the settings, else
    the cores shared out, so that the spinning threads of several Triton instances do not
    fight; one note thread on a GPU, whose runs take no core."""
    cores = len(os.sched_getaffinity(0))
    notes = settings.note_threads or (1 if gpu else max(1, cores // instances))
    return notes, settings.threads or max(1, cores // (instances * notes))


def balanced_shares(lengths: list[int], count: int) -> list[list[int]]:
    """The indexes of `lengths` in at most `count` shares of about equal total length, longest
    first into the lightest share: dealt out in turn, a batch's shares of notes of mixed
    lengths left one thread idle (1.23x against 1.31x from two threads, measured)."""
    shares: list[list[int]] = [[] for _ in range(min(count, len(lengths)))]
    loads = [0] * len(shares)
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        lightest = loads.index(min(loads))
        shares[lightest].append(index)
        loads[lightest] += lengths[index]
    return shares


def session_options(
    settings: InferenceSettings, instances: int = 1, gpu: bool = False
) -> ort.SessionOptions:
    """One instance of one note thread with threads 0 keeps ONNX Runtime's default (one per
    physical core)."""
    options = ort.SessionOptions()
    notes, threads = thread_layout(settings, instances, gpu)
    alone_by_default = settings.threads == 0 and instances == 1 and notes == 1
    options.intra_op_num_threads = 0 if alone_by_default else threads
    options.add_session_config_entry("session.intra_op.allow_spinning", str(int(settings.spinning)))
    return options


class OnnxStudent:
    def __init__(
        self,
        directory: Path,
        settings: InferenceSettings | None = None,
        providers: list[str | tuple[str, dict]] | None = None,
        instances: int = 1,
    ) -> None:
        self.settings = settings or InferenceSettings()
        self.card = StudentCard.load(directory)
        self.tokenizer = AutoTokenizer.from_pretrained(directory)
        self.pair_model = PairModel.load(directory)
        providers = providers or execution_providers()
        gpu = any("CUDAExecutionProvider" in provider for provider in providers)
        if gpu:
            # The [gpu] extra brings CUDA and cuDNN as pip wheels; ORT loads them from there.
            ort.preload_dlls()
        self.session = ort.InferenceSession(
            str(directory / ONNX_FILE),
            session_options(self.settings, instances, gpu),
            providers=providers,
        )
        self.note_threads, _ = thread_layout(self.settings, instances, gpu)
        self._pool = ThreadPoolExecutor(self.note_threads, thread_name_prefix="student")
        # Each thread tokenises with its own copy: a fast tokenizer shared across threads
        # can fail with "Already borrowed" when one of them sets its padding.
        self._local = threading.local()

    @property
    def stride(self) -> int:
        """Tokens shared by consecutive windows: the setting's, else the card's."""
        return self.card.stride if self.settings.stride is None else self.settings.stride

    @property
    def ade_threshold(self) -> float | None:
        """The sentence head's operating point: the setting's, else the card's."""
        if self.settings.ade_sentence_threshold is None:
            return self.card.ade_sentence_threshold
        return self.settings.ade_sentence_threshold

    def extract(self, texts: list[str]) -> list[Annotations]:
        """Each note's entities and pairs, the notes shared out among the note threads."""
        shares = balanced_shares([len(text) for text in texts], self.note_threads)
        if len(shares) <= 1:
            return self._extract(texts)
        found: list[Annotations] = [None] * len(texts)  # type: ignore[list-item]
        extracted = self._pool.map(self._extract, [[texts[i] for i in share] for share in shares])
        for share, annotations in zip(shares, extracted, strict=True):
            for index, annotation in zip(share, annotations, strict=True):
                found[index] = annotation
        return found

    def _extract(self, texts: list[str]) -> list[Annotations]:
        if not texts:
            return []
        if not hasattr(self._local, "tokenizer"):
            self._local.tokenizer = copy.deepcopy(self.tokenizer)
        windows = encode_windows(self._local.tokenizer, texts, self.card.max_length, self.stride)
        return decode_windows(
            texts,
            windows,
            self._window_probabilities(windows),
            self.pair_model,
            self.ade_threshold,
            self.settings.ade_needs_drug,
        )

    def _window_probabilities(self, windows: Windows) -> np.ndarray:
        """Output probabilities per window token (zero on padding).

        Windows run shortest first, each batch cut to its longest window, so the short last
        windows of notes do not pay for padding up to full windows.
        """
        input_ids = np.asarray(windows.input_ids, dtype=np.int64)
        attention_mask = np.asarray(windows.attention_mask, dtype=np.int64)
        lengths = attention_mask.sum(axis=1)
        outputs = self.session.get_outputs()[0].shape[-1]  # the labels, and the sentence head
        probabilities = np.zeros((*input_ids.shape, outputs), dtype=np.float32)
        order = np.argsort(lengths, kind="stable")
        # Dynamic int8 scales activations per run: a window batched with others would come
        # out differently than alone, and a re-delivered note could get another answer. Window
        # by window (no padding either) it is the same every time, and measured as fast.
        size = 1 if self.card.precision == Precision.INT8 else self.settings.window_batch_size
        for batch in (order[start : start + size] for start in range(0, len(order), size)):
            width = int(lengths[batch].max())
            (logits,) = self.session.run(
                ["logits"],
                {
                    "input_ids": input_ids[batch, :width],
                    "attention_mask": attention_mask[batch, :width],
                },
            )
            probabilities[batch, :width] = output_probabilities(logits)
        return probabilities
