"""The token-classification network on any BERT-family backbone."""

from transformers import AutoModelForTokenClassification, PreTrainedModel
from transformers.utils import logging as transformers_logging

from models.labels import LABEL_TO_ID, LABELS


def build_student(backbone: str) -> PreTrainedModel:
    """A fresh classification head on the pretrained encoder, with the label list attached."""
    # Its load report lists the new head and unused pooler as missing/unexpected: expected here.
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    return load_student(
        backbone,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id=LABEL_TO_ID,
    )


def load_student(path: str, **config) -> PreTrainedModel:
    """A token classifier from `path`, with the attention that exports to ONNX."""
    # Eager attention traces to ONNX with the padding mask intact.
    return AutoModelForTokenClassification.from_pretrained(
        path, attn_implementation="eager", **config
    )
