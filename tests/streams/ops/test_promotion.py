"""Decisions reach the decisions topic through the broker's security options."""

from models.messages import Decision, ModelDecision
from streams import topics
from streams.ops.promotion import publish_decision
from streams.settings import KafkaSettings


class RecordingProducer:
    """Stands in for aiokafka's producer: a SASL broker cannot run here (Tansu has no auth)."""

    made: list[dict] = []

    def __init__(self, **options) -> None:
        self.made.append(options)
        self.sent: list[tuple[str, bytes]] = []

    async def start(self) -> None: ...

    async def send_and_wait(self, topic: str, value: bytes) -> None:
        self.sent.append((topic, value))

    async def stop(self) -> None: ...


def test_a_decision_is_published_with_the_workers_sasl_options(monkeypatch):
    monkeypatch.setattr(topics, "AIOKafkaProducer", RecordingProducer)
    kafka = KafkaSettings(
        bootstrap="broker:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="clinstream",
        sasl_password="secret",
    )
    decision = ModelDecision(
        decision=Decision.ROLLED_BACK, reason="test", current_version=2, serving_version=1
    )
    publish_decision(decision, kafka)
    (options,) = RecordingProducer.made
    assert options["bootstrap_servers"] == "broker:9093"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "clinstream"
    assert options["sasl_plain_password"] == "secret"
    assert options["ssl_context"] is not None
    # The worker's Faust app authenticates with the same identity.
    credentials = kafka.faust_credentials()
    assert (credentials.username, credentials.password) == ("clinstream", "secret")
