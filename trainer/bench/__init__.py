"""Benchmarks that print measured figures: accuracy (lexicon suite), llm (recorded LLM
teachers), speed (the student in process and its inference variants)."""
