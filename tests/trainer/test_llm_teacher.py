"""The LLM teacher against a local server speaking the OpenAI chat API, with recorded answers."""

import pytest

from models.labels import EntityType
from tests.trainer.openai_server import OpenAiServer, recorded_answers
from trainer.teachers.ensemble import EnsembleTeacher
from trainer.teachers.llm import LlmSettings, LlmTeacher, LlmTeacherError

COUGH = "Started lisinopril for hypertension; two weeks later she developed a dry cough and lisinopril was stopped."  # noqa: E501
HEMATURIA = (
    "On warfarin and metoprolol. Hematuria noted, attributed to warfarin. Denies chest pain."
)


@pytest.fixture
def server():
    with OpenAiServer(recorded_answers()) as running:
        yield running


@pytest.fixture
def teacher(server, tmp_path):
    settings = LlmSettings(
        base_url=server.base_url, model="recorded-model", api_key="sk-test",
        cache_file=tmp_path / "cache.sqlite", backoff_s=0.01, max_retries=2,
    )  # fmt: skip
    return LlmTeacher(settings)


def test_answers_are_aligned_to_offsets_and_pairs_to_mentions(teacher, server):
    cough, hematuria = teacher.label_batch([COUGH, HEMATURIA])
    assert [(e.type, e.text, e.start) for e in cough.entities] == [
        (EntityType.DRUG, "lisinopril", 8),
        (EntityType.DISEASE, "hypertension", 23),
        (EntityType.ADE, "dry cough", 69),
        (EntityType.DRUG, "lisinopril", 83),
    ]
    (pair,) = cough.ade_pairs
    assert (pair.drug.start, pair.effect.text) == (83, "dry cough")  # nearest in the sentence
    # "aspirin" is not in the note: dropped, never invented. "chest pain" is negated.
    assert "aspirin" not in [e.text for e in hematuria.entities]
    assert {e.text: e.negated for e in hematuria.entities}["chest pain"] is True
    (pair,) = hematuria.ade_pairs
    assert (pair.drug.start, pair.effect.text) == (HEMATURIA.rindex("warfarin"), "Hematuria")

    request = server.requests[0]
    assert request["model"] == "recorded-model"
    assert request["response_format"]["type"] == "json_schema"
    assert request["temperature"] == 0


def test_relabelling_is_served_from_the_cache_and_costs_nothing(teacher, server, tmp_path):
    first = teacher.label_batch([COUGH, HEMATURIA])
    assert teacher.usage.requests == 2
    assert teacher.usage.input_tokens > 0 and teacher.usage.cost_usd > 0
    again = LlmTeacher(teacher.settings)
    assert again.label_batch([COUGH, HEMATURIA]) == first
    assert len(server.requests) == 2
    assert (again.usage.cache_hits, again.usage.requests, again.usage.cost_usd) == (2, 0, 0.0)


def test_server_errors_and_malformed_answers_are_retried(teacher, server):
    server.fail_next = [503, "garbage"]
    (annotations,) = teacher.label_batch([COUGH])
    assert annotations.ade_pairs
    assert teacher.usage.retries == 2


def test_persistent_failure_names_the_setting_and_not_the_note(teacher, server):
    server.fail_next = [500, 500, 500]
    with pytest.raises(LlmTeacherError, match="CLINSTREAM_LLM_MAX_RETRIES") as raised:
        teacher.label_batch([COUGH])
    assert "lisinopril" not in str(raised.value)


def test_rejected_request_says_which_settings_to_check(teacher):
    with pytest.raises(LlmTeacherError, match="CLINSTREAM_LLM_API_KEY"):
        teacher.label_batch(["a note with no recorded answer"])


def test_ensemble_adds_lexicon_drugs_the_llm_missed(teacher):
    from trainer.teachers.lexicon import LexiconTeacher

    (annotations,) = EnsembleTeacher(teacher, LexiconTeacher()).label_batch([HEMATURIA])
    drugs = [e.text for e in annotations.entities if e.type == EntityType.DRUG]
    assert drugs == ["warfarin", "metoprolol", "warfarin"]
    assert len(annotations.ade_pairs) == 1
