"""The Faust worker: agents, topics, extraction, the teacher loop, drift, sampling, the label
store, the Triton client and model repository, metrics and settings. What an operator runs (CLI,
embedded runtime, demo, promotion, benchmarks) is `streams.ops`, which the worker never imports."""
