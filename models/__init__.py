"""The contracts every layer shares (labels, spans, messages, input formats, codes, the served
model's tensors) and the student itself: windowed tokenisation, network, decoding, export."""
