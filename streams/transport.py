"""Faust's Kafka transport, with the worker's fetch wait from CLINSTREAM_KAFKA_FETCH_MAX_WAIT_MS.

Faust fixes its consumer's `fetch_max_wait_ms` at 1,500. Apache Kafka answers a fetch as soon as
a record is there, whatever the wait; Tansu, the embedded broker, answers late, the later the
longer the wait: at half load, the demo stack's median latency was 790-910 ms at 1,500 and
490-650 ms at 500. Registered as the `clinstream` broker scheme (pyproject's `faust.transports`
entry point).
"""

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_kafka

from streams.settings import KafkaSettings


class ConsumerThread(faust_kafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands it to its fetcher when the consumer starts (aiokafka is pinned).
        consumer._fetch_max_wait_ms = KafkaSettings().fetch_max_wait_ms
        return consumer


class Consumer(faust_kafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_kafka.Transport):
    Consumer = Consumer
