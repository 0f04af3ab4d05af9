"""The contract of the Triton-served student (triton_repo/student/config.pbtxt): note texts in,
one JSON `Annotations` per note out. The python backend and the worker's client share these
names; this module imports nothing, so the worker need not load ONNX Runtime to know them."""

TEXT_INPUT = "TEXT"
ANNOTATIONS_OUTPUT = "ANNOTATIONS"
