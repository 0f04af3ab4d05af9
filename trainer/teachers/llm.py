"""A teacher behind any OpenAI-compatible chat API (OpenAI, Azure OpenAI, Gemini's compatible
endpoint, vLLM, Ollama, llama.cpp server).

The answer is constrained to a JSON schema and validated with pydantic; the returned strings
are aligned back to character offsets of the note. Identifiers are redacted before a note
leaves, and only allowed hosts are called. Requests are retried with backoff, run with
bounded concurrency, and cached by (prompt version, model, text hash), so labelling the same
text again costs nothing. Tokens, cost and latency are counted.

The prompt, the answer schema, the client and the alignment stay together (some 310 lines):
they change together.
"""

import asyncio
import hashlib
import json
import logging
import math
import re
import sqlite3
import time
from pathlib import Path

import httpx
import numpy as np
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.backoff import delays
from models.context import mark_context
from models.labels import EntityType
from models.sentences import sentence_index
from models.spans import AdePair, Annotations, Entity, non_overlapping
from trainer.settings import DataSettings
from trainer.teachers.redaction import Redactor

log = logging.getLogger(__name__)

PROMPT_VERSION = "2026-11-22.1"
SYSTEM_PROMPT = """You extract clinical facts from a clinical note for pharmacovigilance.
Return every mention, copied exactly as written in the note, with its type:
- DRUG: a medication, drug class or chemical given to the patient.
- DISEASE: a disease, disorder or diagnosis.
- SYMPTOM: a sign or symptom.
- ADE: a disorder or symptom that the note says a drug caused (an adverse drug event).
Also return ade_pairs: each ADE with the drug the note says caused it, both copied exactly.
Do not paraphrase, normalise or add text that is not in the note."""


class LlmSettings(BaseSettings):
    """The LLM teacher (CLINSTREAM_LLM_*)."""

    model_config = SettingsConfigDict(env_prefix="CLINSTREAM_LLM_")

    base_url: str = Field("https://api.openai.com/v1", description="OpenAI-compatible API root.")
    model: str = "gpt-4o-mini"
    api_key: SecretStr = SecretStr("")
    timeout_s: float = Field(60.0, gt=0)
    max_concurrency: int = Field(4, ge=1)
    max_retries: int = Field(4, ge=0)
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry.")
    usd_per_million_input_tokens: float = 0.15
    usd_per_million_output_tokens: float = 0.60
    cache_file: Path = Field(default_factory=lambda: DataSettings().data_dir / "llm_cache.sqlite")
    redact_phi: bool = Field(
        True,
        description="Replace identifiers (names, dates, numbers, places) by placeholders "
        "before a note leaves for the endpoint.",
    )
    allowed_hosts: list[str] = Field(
        ["api.openai.com", "127.0.0.1", "localhost"],
        description="Hosts notes may be sent to; CLINSTREAM_LLM_BASE_URL must name one.",
    )

    def usd(self, input_tokens: int, output_tokens: int) -> float:
        return (
            input_tokens * self.usd_per_million_input_tokens
            + output_tokens * self.usd_per_million_output_tokens
        ) / 1e6


class _Mention(BaseModel):
    text: str = Field(min_length=1)
    type: EntityType


class _Pair(BaseModel):
    drug: str = Field(min_length=1)
    effect: str = Field(min_length=1)


class LlmAnswer(BaseModel):
    """The JSON the model must return."""

    entities: list[_Mention]
    ade_pairs: list[_Pair]


class LlmUsage(BaseModel):
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_p50_s: float = 0.0
    latency_p95_s: float = 0.0


class LlmTeacherError(RuntimeError):
    """The API kept failing; the message has the status, never the note."""


def _schema() -> dict:
    schema = LlmAnswer.model_json_schema()
    return {"type": "json_schema", "json_schema": {"name": "clinical_facts", "schema": schema}}


class LlmTeacher:
    name = "llm"

    def __init__(self, settings: LlmSettings | None = None) -> None:
        self.settings = settings or LlmSettings()
        host = httpx.URL(self.settings.base_url).host
        if host not in self.settings.allowed_hosts:
            raise LlmTeacherError(
                f"{host} is not an allowed LLM endpoint: notes (PHI) would go there; add it to "
                "CLINSTREAM_LLM_ALLOWED_HOSTS if your agreements cover it"
            )
        self.redactor = Redactor() if self.settings.redact_phi else None
        self.usage = LlmUsage()
        self._latencies: list[float] = []
        self.settings.cache_file.parent.mkdir(parents=True, exist_ok=True)
        self._cache = sqlite3.connect(self.settings.cache_file)
        self._cache.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL)"
        )

    @property
    def version(self) -> str:
        return f"{self.settings.model}@{PROMPT_VERSION}"

    def label_batch(self, texts: list[str]) -> list[Annotations]:
        return asyncio.run(self._label_all(texts))

    async def _label_all(self, texts: list[str]) -> list[Annotations]:
        semaphore = asyncio.Semaphore(self.settings.max_concurrency)
        headers = {}
        if self.settings.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        async with httpx.AsyncClient(
            base_url=self.settings.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=self.settings.timeout_s,
        ) as client:

            async def one(text: str) -> Annotations:
                async with semaphore:
                    return align(text, await self._answer(client, text))

            results = await asyncio.gather(*(one(text) for text in texts))
        if self._latencies:
            self.usage.latency_p50_s = round(float(np.percentile(self._latencies, 50)), 3)
            self.usage.latency_p95_s = round(float(np.percentile(self._latencies, 95)), 3)
        return list(results)

    def _key(self, text: str) -> str:
        text_hash = hashlib.sha256(text.encode()).hexdigest()
        redacted = "redacted" if self.redactor else "whole"
        return hashlib.sha256(
            f"{PROMPT_VERSION}|{redacted}|{self.settings.model}|{text_hash}".encode()
        ).hexdigest()

    async def _answer(self, client: httpx.AsyncClient, text: str) -> LlmAnswer:
        key = self._key(text)
        row = self._cache.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        if row:
            self.usage.cache_hits += 1
            return LlmAnswer.model_validate_json(row[0])
        request = {
            "model": self.settings.model,
            "temperature": 0,
            "response_format": _schema(),
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": self.redactor.redact(text) if self.redactor else text},
            ],
        }
        waits = delays(self.settings.backoff_s)
        problem = ""
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                self.usage.retries += 1
                await asyncio.sleep(next(waits))
            started = time.perf_counter()
            try:
                response = await client.post("chat/completions", json=request)
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}"
                continue
            self.usage.requests += 1
            self._latencies.append(time.perf_counter() - started)
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise LlmTeacherError(
                    f"{self.settings.base_url} answered HTTP {response.status_code}; check "
                    "CLINSTREAM_LLM_BASE_URL, CLINSTREAM_LLM_MODEL and CLINSTREAM_LLM_API_KEY"
                )
            body = response.json()
            self._count(body.get("usage") or {})
            try:
                answer = LlmAnswer.model_validate_json(body["choices"][0]["message"]["content"])
            except (KeyError, IndexError, TypeError, ValidationError):
                problem = "an answer that does not match the JSON schema"
                continue
            self._cache.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?)", (key, answer.model_dump_json())
            )
            self._cache.commit()
            return answer
        self.usage.failures += 1
        raise LlmTeacherError(
            f"the LLM gave {problem} after {self.settings.max_retries} retries "
            "(CLINSTREAM_LLM_MAX_RETRIES)"
        )

    def _count(self, usage: dict) -> None:
        input_tokens = int(usage.get("prompt_tokens", 0))
        output_tokens = int(usage.get("completion_tokens", 0))
        self.usage.input_tokens += input_tokens
        self.usage.output_tokens += output_tokens
        self.usage.cost_usd = round(
            self.usage.cost_usd + self.settings.usd(input_tokens, output_tokens), 6
        )


# OpenAI's rule of thumb for English text; only for estimates where no endpoint has counted.
CHARS_PER_TOKEN = 4


def estimated_tokens(text: str, found: Annotations) -> tuple[int, int]:
    """Input and output tokens of this teacher's request for `text`, had it answered `found`,
    at CHARS_PER_TOKEN. The cost benchmark uses it with no endpoint; a live teacher counts the
    tokens its endpoint reports instead (`usage`)."""
    prompt = SYSTEM_PROMPT + json.dumps(_schema()) + text
    answer = LlmAnswer(
        entities=[_Mention(text=e.text, type=e.type) for e in found.entities],
        ade_pairs=[_Pair(drug=p.drug.text, effect=p.effect.text) for p in found.ade_pairs],
    ).model_dump_json()
    return math.ceil(len(prompt) / CHARS_PER_TOKEN), math.ceil(len(answer) / CHARS_PER_TOKEN)


def _occurrences(text: str, mention: str) -> list[tuple[int, int]]:
    """Every whole-word occurrence, exact case first, else ignoring case."""
    pattern = r"(?<!\w)" + re.escape(mention.strip()) + r"(?!\w)"
    found = [(m.start(), m.end()) for m in re.finditer(pattern, text)]
    if not found:
        found = [(m.start(), m.end()) for m in re.finditer(pattern, text, re.IGNORECASE)]
    return found


def align(text: str, answer: LlmAnswer) -> Annotations:
    """Strings from the model -> entities at character offsets; strings not in the note are
    dropped (the model must not invent text), overlaps keep the longer mention."""
    candidates = [
        (start, end, mention.type)
        for mention in answer.entities
        for start, end in _occurrences(text, mention.text)
    ]
    candidates += [
        (start, end, EntityType.ADE)
        for pair in answer.ade_pairs
        for start, end in _occurrences(text, pair.effect)
    ]
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[2] != EntityType.ADE, c[0]))
    taken = non_overlapping(candidates)
    entities = mark_context(
        text,
        [Entity.in_note(text, s, e, t) for s, e, t in sorted(taken)],
    )
    return Annotations(entities=entities, ade_pairs=_pairs(text, entities, answer.ade_pairs))


def _pairs(text: str, entities: list[Entity], pairs: list[_Pair]) -> list[AdePair]:
    """Each stated (drug, effect): every occurrence of the effect with the nearest occurrence
    of the drug, preferring one in the same sentence."""
    sentence_of = sentence_index(text)
    result: dict[tuple[int, int], AdePair] = {}
    for pair in pairs:
        drugs = [e for e in entities if e.type == EntityType.DRUG
                 and e.text.lower() == pair.drug.strip().lower()]  # fmt: skip
        effects = [e for e in entities if e.type == EntityType.ADE and not (e.negated or e.family)
                   and e.text.lower() == pair.effect.strip().lower()]  # fmt: skip
        for effect in effects:
            if not drugs:
                break
            drug = min(
                drugs,
                key=lambda d: (sentence_of(d.start) != sentence_of(effect.start),
                               abs(d.start - effect.start)),
            )  # fmt: skip
            result[(drug.start, effect.start)] = AdePair(drug=drug, effect=effect, confidence=1.0)
    return [result[key] for key in sorted(result, key=lambda k: (k[1], k[0]))]
