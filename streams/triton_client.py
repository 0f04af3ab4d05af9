"""Async gRPC client of the Triton-served student."""

import asyncio
import logging
import time
from dataclasses import dataclass

import numpy as np
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.grpc.aio import InferenceServerClient
from tritonclient.utils import InferenceServerException

from models.spans import Annotations
from streams import metrics
from streams.settings import TritonSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudentResult:
    annotations: list[Annotations]
    model_version: str
    seconds: float


class TritonStudent:
    """Sends a batch of note texts to Triton; retries with backoff when Triton fails."""

    def __init__(self, settings: TritonSettings) -> None:
        self.settings = settings
        self.client = InferenceServerClient(settings.grpc_url)

    async def extract(self, texts: list[str]) -> StudentResult:
        delay = 0.5
        for attempt in range(self.settings.retries + 1):
            try:
                return await self._infer(texts)
            except InferenceServerException as error:
                metrics.TRITON_ERRORS.inc()
                if attempt == self.settings.retries:
                    raise
                # Status only: Triton's message may echo the request.
                log.warning(
                    "Triton request failed (%s), retry %d/%d in %.1fs",
                    error.status(),
                    attempt + 1,
                    self.settings.retries,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")

    async def _infer(self, texts: list[str]) -> StudentResult:
        values = np.array([[text.encode("utf-8")] for text in texts], dtype=np.object_)
        request = InferInput("TEXT", list(values.shape), "BYTES")
        request.set_data_from_numpy(values)
        started = time.perf_counter()
        response = await self.client.infer(
            self.settings.model_name,
            [request],
            outputs=[InferRequestedOutput("ANNOTATIONS")],
            client_timeout=self.settings.timeout_s,
        )
        seconds = time.perf_counter() - started
        metrics.TRITON_LATENCY.observe(seconds)
        annotations = [
            Annotations.model_validate_json(value[0]) for value in response.as_numpy("ANNOTATIONS")
        ]
        version = response.get_response().model_version
        metrics.SERVING_VERSION.set(float(version))
        return StudentResult(annotations, version, seconds)

    async def close(self) -> None:
        await self.client.close()
