"""The token-classification network on any BERT-family backbone."""

from transformers import AutoModelForTokenClassification, PreTrainedModel
from transformers.utils import logging as transformers_logging

from models.labels import LABELS

# The classifier's outputs per token: a logit per BIO label (a softmax), then one more, the
# sentence head: does the sentence holding this token report an adverse drug event (a
# sigmoid)? Most false ADE alerts sit in sentences that report none; the sentence decision
# gates them (models/decoding.py).
SENTENCE_REPORTS_ADE = "SENTENCE-REPORTS-ADE"
OUTPUTS: tuple[str, ...] = (*LABELS, SENTENCE_REPORTS_ADE)


def build_student(
    backbone: str, sentence_head: bool = True, layers: int | None = None
) -> PreTrainedModel:
    """A fresh classification head (the BIO labels, and the sentence head unless told not to)
    on the pretrained encoder (its lowest `layers`, unset: all), with the output names
    attached."""
    # Its load report lists the new head and unused pooler as missing/unexpected: expected here.
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    outputs = OUTPUTS if sentence_head else LABELS
    depth = {"num_hidden_layers": layers} if layers else {}
    return load_student(
        backbone,
        **depth,
        num_labels=len(outputs),
        id2label=dict(enumerate(outputs)),
        label2id={output: index for index, output in enumerate(outputs)},
    )


def load_student(path: str, **config) -> PreTrainedModel:
    """A token classifier from `path`, with the attention that exports to ONNX."""
    # Eager attention traces to ONNX with the padding mask intact.
    return AutoModelForTokenClassification.from_pretrained(
        path, attn_implementation="eager", **config
    )
