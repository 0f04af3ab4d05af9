"""Teachers, corpora, combining teachers, training and distillation, evaluation and the accuracy
and speed benchmarks."""
