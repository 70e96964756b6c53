"""Publish → streaming-pull throughput and latency with Google's Python client against the
emulator at PUBSUB_EMULATOR_HOST. Prints one summary line."""

import struct
import threading
import time

from google.cloud import pubsub_v1

N = 20_000
PROJECT = "bench"

publisher = pubsub_v1.PublisherClient(batch_settings=pubsub_v1.types.BatchSettings(max_messages=100))
subscriber = pubsub_v1.SubscriberClient()
topic = publisher.topic_path(PROJECT, "py-bench")
sub = subscriber.subscription_path(PROJECT, "py-bench")
publisher.create_topic(name=topic)
subscriber.create_subscription(name=sub, topic=topic)

latencies = []
done = threading.Event()
lock = threading.Lock()


def callback(message):
    now = time.time_ns() // 1000
    (sent,) = struct.unpack(">Q", message.data[:8])
    message.ack()
    with lock:
        latencies.append(now - sent)
        if len(latencies) >= N:
            done.set()


future = subscriber.subscribe(sub, callback=callback, flow_control=pubsub_v1.types.FlowControl(max_messages=5000))
start = time.time()
pending = []
for i in range(N):
    payload = struct.pack(">Q", time.time_ns() // 1000) + b"x" * 192
    pending.append(publisher.publish(topic, payload, deviceId="pi-00042"))
for p in pending:
    p.result()
published = time.time() - start
done.wait(240)
elapsed = time.time() - start
future.cancel()
lat = sorted(latencies)
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else -1
print(
    f"{N} msgs (200 B): publish {N / published:.0f} msg/s, end-to-end {len(lat) / elapsed:.0f} msg/s, "
    f"latency p50 {pick(0.5)} µs p99 {pick(0.99)} µs, delivered {len(lat)}"
)
