"""The worker's Faust consumer fetches with CLINSTREAM_KAFKA_FETCH_MAX_WAIT_MS, not Faust's 1.5 s
(which Tansu, the embedded broker, waits out: see streams.transport)."""

import faust

from streams.transport import Transport


async def test_the_worker_fetches_with_the_configured_wait(monkeypatch) -> None:
    # Imported here, not at the top: the worker module builds its app and stores on import.
    from streams.app import app as worker_app

    assert isinstance(worker_app.transport, Transport)
    monkeypatch.setenv("CLINSTREAM_KAFKA_FETCH_MAX_WAIT_MS", "250")
    app = faust.App("fetch-wait", broker="clinstream://127.0.0.1:9092")
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == 250
    finally:
        await consumer.stop()
