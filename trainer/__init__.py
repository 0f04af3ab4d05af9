"""Teachers, corpora, distillation and export of new student versions."""
