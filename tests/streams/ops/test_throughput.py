"""The throughput benchmark, on the tiny student and a few notes: real stack, real figures."""

import pytest

from models.messages import ClinicalNote
from models.settings import InferenceSettings, Precision
from streams.ops.demo_corpus import demo_notes
from streams.ops.throughput import run_throughput_benchmark, throughput_table
from trainer.bench.speed import Variant, compare_variants, inference_variants
from trainer.corpora import Document


@pytest.mark.integration
def test_both_paths_are_measured_on_the_same_notes_with_each_process_memory(fp32_student, tmp_path):
    texts = [note.text for note in demo_notes(12, seed=21, prefix="bench")]
    result = run_throughput_benchmark(
        fp32_student, texts, tmp_path, 4, usd_per_core_hour=0.05, other_instances=[2]
    )
    assert result.in_process.notes == 12 and result.in_process.notes_per_s > 0
    assert [run.load for run in result.end_to_end] == ["full", "half"]
    assert all(run.notes == 12 and run.latency_p50_ms <= run.latency_p99_ms
               for run in result.end_to_end)  # fmt: skip
    assert result.end_to_end_ratio > 0
    assert set(result.peak_rss_mib) >= {"broker", "tritonserver", "worker"}
    # Triton's python-backend stub, a child process, counts toward Triton's memory.
    assert result.peak_rss_mib["tritonserver"] > result.peak_rss_mib["broker"]
    assert result.cpu_ms_per_note["tritonserver"] > 0 and result.cpu_ms_per_note["worker"] > 0
    # The settings' instance count first, then each other one asked for, each run for real.
    assert [config.instances for config in result.triton_configs] == [1, 2]
    assert all(config.notes_per_s > 0 for config in result.triton_configs)
    # The LLM's prompt alone is longer than a note: it costs more per note than the student.
    assert result.cost.llm_input_tokens_per_note > 100 and result.cost.llm_over_student > 1
    assert result.cost.answers_from == "lexicon" and result.cost.cores >= 1
    assert "| Kafka → worker → Triton → Kafka | half |" in throughput_table(result)


def test_variants_are_scored_against_the_fp32_baseline_on_speed_and_agreement(
    fp32_student, teacher, tmp_path
):
    notes: list[ClinicalNote] = demo_notes(6, seed=22, prefix="variants")
    dev = [Document(doc_id=n.note_id, text=n.text, labels=teacher.label(n.text)) for n in notes]
    baseline, *_ = inference_variants()
    less_overlap = Variant(name="fp32, stride 4", precision=Precision.FP32,
                           inference=InferenceSettings(stride=4))  # fmt: skip
    int8 = Variant(name="int8", precision=Precision.INT8, inference=InferenceSettings())
    results = compare_variants(
        fp32_student, tmp_path, [n.text for n in notes], 3, [baseline, less_overlap, int8], dev
    )
    assert (results[0].speedup, results[0].agreement_f1) == (1.0, 1.0)
    assert all(0 < r.agreement_f1 <= 1 and r.dev_f1 and r.speed.notes_per_s > 0 for r in results)
    # The tiny student's card says stride 16: with 4, the network sees fewer window tokens.
    window_tokens = [r.speed.window_tokens_per_note_token for r in results]
    assert window_tokens[1] < window_tokens[0] == window_tokens[2]
