"""Async gRPC client of the Triton-served student.

One call is one attempt; what to do about a failure (wait out an outage, retry, split the
batch, dead-letter one note) is decided by the caller, which knows the notes.
"""

import asyncio
import logging
import time
from dataclasses import dataclass

import numpy as np
from tritonclient.grpc import MAX_GRPC_MESSAGE_SIZE, InferInput, InferRequestedOutput
from tritonclient.grpc.aio import InferenceServerClient
from tritonclient.utils import InferenceServerException

from models.backoff import delays
from models.serving import ANNOTATIONS_OUTPUT, TEXT_INPUT
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
    def __init__(self, settings: TritonSettings) -> None:
        self.settings = settings
        self.client = InferenceServerClient(
            settings.grpc_url,
            channel_args=[
                ("grpc.max_send_message_length", MAX_GRPC_MESSAGE_SIZE),
                ("grpc.max_receive_message_length", MAX_GRPC_MESSAGE_SIZE),
                # gRPC's own reconnect backoff grows to 120 s: after a long outage the channel
                # would not try Triton again for up to that long. Capped at our backoff cap it
                # still added up to one cap: a readiness check that came just before the
                # channel's next connect failed and waited a whole cap again (19.9 s measured
                # against 10). A connect a second to a local Triton while it is away is cheap.
                ("grpc.initial_reconnect_backoff_ms", 250),
                ("grpc.min_reconnect_backoff_ms", 250),
                ("grpc.max_reconnect_backoff_ms", 1000),
            ],
        )

    async def extract(self, texts: list[str]) -> StudentResult:
        """One inference request, with a deadline that grows with the characters sent."""
        values = np.array([[text.encode("utf-8")] for text in texts], dtype=np.object_)
        request = InferInput(TEXT_INPUT, list(values.shape), "BYTES")
        request.set_data_from_numpy(values)
        started = time.perf_counter()
        response = await self.client.infer(
            self.settings.model_name,
            [request],
            outputs=[InferRequestedOutput(ANNOTATIONS_OUTPUT)],
            client_timeout=self.settings.deadline_s(sum(map(len, texts))),
        )
        seconds = time.perf_counter() - started
        metrics.TRITON_LATENCY.observe(seconds)
        annotations = [
            Annotations.model_validate_json(value[0])
            for value in response.as_numpy(ANNOTATIONS_OUTPUT)
        ]
        version = response.get_response().model_version
        metrics.SERVING_VERSION.set(float(version))
        return StudentResult(annotations, version, seconds)

    async def ready(self) -> bool:
        """Whether Triton answers and serves the student: a failure then is the request's."""
        try:
            return await self.client.is_model_ready(
                self.settings.model_name, client_timeout=self.settings.outage_backoff_max_s
            )
        except InferenceServerException:
            return False

    async def wait_until_ready(self) -> None:
        """Block (and so stop taking notes) until the student is served again.

        An outage is not bad input: nothing is dead-lettered while Triton is away, and the
        offsets of the notes in hand stay uncommitted. One log line when it starts and one
        when it ends, not one per check.
        """
        if await self.ready():
            return
        log.warning("Triton is not serving %s; holding notes until it is", self.settings.model_name)
        metrics.dependency_state("triton", up=False)
        started = last = time.monotonic()
        waits = delays(0.25, self.settings.outage_backoff_max_s)
        while not await self.ready():
            await asyncio.sleep(next(waits))
            now = time.monotonic()
            metrics.PAUSED_SECONDS.labels(dependency="triton").inc(now - last)
            last = now
        metrics.dependency_state("triton", up=True)
        log.warning("Triton is serving again after %.1fs; resuming", time.monotonic() - started)

    async def close(self) -> None:
        await self.client.close()
