"""Google's official Python Pub/Sub client against the emulator at PUBSUB_EMULATOR_HOST.

Creates a topic and two subscriptions, publishes 100 messages with attributes, receives them by
unary pull on one subscription and by streaming pull on the other, acks them, checks ids, data
and attributes, checks that nothing is redelivered, and checks Google's errors for bad requests.
Prints one JSON summary line; exits non-zero with the reason on failure.
"""

import json
import sys
import threading

from google.api_core import exceptions
from google.cloud import pubsub_v1

PROJECT = sys.argv[1]
N = 100
TIMEOUT = 60


def fail(reason):
    print(reason, file=sys.stderr)
    sys.exit(1)


def main():
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, "official-telemetry")
    pull_sub = subscriber.subscription_path(PROJECT, "official-by-pull")
    stream_sub = subscriber.subscription_path(PROJECT, "official-by-stream")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=pull_sub, topic=topic)
    subscriber.create_subscription(name=stream_sub, topic=topic)

    expected = {}
    futures = []
    for i in range(N):
        data = f"payload-{i}".encode()
        attrs = {"deviceId": f"pi-{i:03d}", "seq": str(i)}
        futures.append((publisher.publish(topic, data, **attrs), data, attrs))
    for future, data, attrs in futures:
        expected[future.result(timeout=TIMEOUT)] = (data, attrs)
    if len(expected) != N:
        fail(f"message ids not unique: {len(expected)} distinct of {N}")

    by_pull = {}
    while len(by_pull) < N:
        response = subscriber.pull(request={"subscription": pull_sub, "max_messages": N}, timeout=TIMEOUT)
        for received in response.received_messages:
            m = received.message
            if m.message_id in by_pull:
                fail(f"unary pull redelivered {m.message_id}")
            by_pull[m.message_id] = (m.data, dict(m.attributes))
        subscriber.acknowledge(
            request={"subscription": pull_sub, "ack_ids": [r.ack_id for r in response.received_messages]}
        )

    by_stream = {}
    duplicates = []
    lock = threading.Lock()
    done = threading.Event()

    def callback(message):
        with lock:
            if message.message_id in by_stream:
                duplicates.append(message.message_id)
            by_stream[message.message_id] = (message.data, dict(message.attributes))
            message.ack()
            if len(by_stream) >= N:
                done.set()

    streaming = subscriber.subscribe(stream_sub, callback=callback)
    if not done.wait(TIMEOUT):
        streaming.cancel()
        fail(f"streaming pull received {len(by_stream)} of {N} messages")
    streaming.cancel()
    streaming.result(timeout=TIMEOUT)
    if duplicates:
        fail(f"streaming pull redelivered {duplicates}")

    for name, got in (("unary pull", by_pull), ("streaming pull", by_stream)):
        if got != expected:
            missing = set(expected) - set(got)
            wrong = [k for k in got if got[k] != expected.get(k)]
            fail(f"{name}: missing {sorted(missing)[:5]}, mismatched {wrong[:5]}")

    leftovers = subscriber.pull(
        request={"subscription": pull_sub, "max_messages": N, "return_immediately": True}, timeout=TIMEOUT
    )
    if leftovers.received_messages:
        fail(f"redelivered after ack: {len(leftovers.received_messages)} messages")

    errors = {}
    try:
        publisher.get_topic(topic=publisher.topic_path(PROJECT, "no-such-topic"))
    except exceptions.NotFound:
        errors["get_missing_topic"] = "NotFound"
    try:
        publisher.create_topic(name=topic)
    except exceptions.AlreadyExists:
        errors["create_existing_topic"] = "AlreadyExists"
    try:
        publisher.create_topic(name=f"projects/{PROJECT}/topics/x")
    except exceptions.InvalidArgument:
        errors["bad_topic_name"] = "InvalidArgument"

    print(json.dumps({"published": len(expected), "unary": len(by_pull), "streaming": len(by_stream), "errors": errors}))


if __name__ == "__main__":
    main()
