"""Google's official Python Pub/Sub client against the emulator at PUBSUB_EMULATOR_HOST:
filters, snapshots and seek, Google's limits, exactly-once delivery and lease expiry.

Usage: features.py PROJECT CHECK [JSON]. Each check prints one JSON line with what it saw and
exits non-zero with the reason on failure; the Rust test drives the emulator's clock between
the phases of a check and passes the previous phase's output back as JSON.
"""

import datetime
import json
import os
import sys
import threading

import grpc
from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.subscriber import exceptions as sub_exceptions
from google.protobuf import duration_pb2
from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport
from google.rpc import error_details_pb2
from grpc_status import rpc_status

PROJECT = sys.argv[1]
TIMEOUT = 60
publisher = pubsub_v1.PublisherClient()
subscriber = pubsub_v1.SubscriberClient()


def fail(reason):
    print(reason, file=sys.stderr)
    sys.exit(1)


def topic_path(name):
    return publisher.topic_path(PROJECT, name)


def sub_path(name):
    return subscriber.subscription_path(PROJECT, name)


def refused(call, kind=exceptions.InvalidArgument):
    """The error message of a call that must fail with `kind`."""
    try:
        call()
    except kind as err:
        return err.message
    fail(f"expected {kind.__name__} from {call}")


def publish_all(topic, items):
    """Publishes (data, attributes) pairs; returns the message ids in order."""
    futures = [publisher.publish(topic, data, **attrs) for data, attrs in items]
    return [f.result(timeout=TIMEOUT) for f in futures]


def pull_all(sub, max_messages=100, ack=True):
    """Pulls with return_immediately until nothing comes; returns {message_id: received}."""
    got = {}
    while True:
        response = subscriber.pull(
            request={"subscription": sub, "max_messages": max_messages, "return_immediately": True},
            timeout=TIMEOUT,
        )
        if not response.received_messages:
            return got
        for received in response.received_messages:
            got[received.message.message_id] = received
        if ack:
            ids = [r.ack_id for r in response.received_messages]
            subscriber.acknowledge(request={"subscription": sub, "ack_ids": ids})


def filters():
    topic = topic_path("telemetry")
    publisher.create_topic(name=topic)
    specs = {
        "telemetry-only": 'attributes.subFolder = "telemetry"',
        "fleet-a": 'hasPrefix(attributes.deviceId, "pi-a") AND NOT attributes:test',
        "not-state": 'attributes.subFolder != "state" OR (attributes:urgent)',
    }
    for name, spec in specs.items():
        subscriber.create_subscription(request={"name": sub_path(name), "topic": topic, "filter": spec})
        if subscriber.get_subscription(subscription=sub_path(name)).filter != spec:
            fail(f"{name}: the filter is not stored")
    errors = {
        "mixed": refused(lambda: subscriber.create_subscription(
            request={"name": sub_path("mixed"), "topic": topic,
                     "filter": "attributes:a AND attributes:b OR attributes:c"})),
        "too_long": refused(lambda: subscriber.create_subscription(
            request={"name": sub_path("long"), "topic": topic, "filter": "attributes:" + "k" * 250})),
        "immutable": refused(lambda: subscriber.update_subscription(
            request={"subscription": {"name": sub_path("fleet-a"), "filter": "attributes:x"},
                     "update_mask": {"paths": ["filter"]}})),
    }
    items = [
        (b"0", {"subFolder": "telemetry", "deviceId": "pi-a1"}),
        (b"1", {"subFolder": "state", "deviceId": "pi-a2"}),
        (b"2", {"subFolder": "telemetry", "deviceId": "pi-b1"}),
        (b"3", {"subFolder": "state", "deviceId": "pi-a3", "urgent": "1"}),
        (b"4", {"deviceId": "pi-a4", "test": "yes"}),
        (b"5", {"other": "x"}),
    ]
    ids = publish_all(topic, items)
    seen = {}
    for name in specs:
        got = pull_all(sub_path(name))
        seen[name] = sorted(int(r.message.data) for r in got.values())
        if pull_all(sub_path(name)):
            fail(f"{name}: redelivered after ack")
    print(json.dumps({"delivered": seen, "errors": errors, "published": len(ids)}))


def snapshots():
    topic = topic_path("events")
    publisher.create_topic(name=topic)
    sub = sub_path("replay")
    subscriber.create_subscription(request={"name": sub, "topic": topic, "retain_acked_messages": True})
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    first = publish_all(topic, [(f"a{i}".encode(), {"n": str(i)}) for i in range(5)])
    if len(pull_all(sub)) != 5:
        fail("the first five were not delivered")
    snap = subscriber.snapshot_path(PROJECT, "after-five")
    created = subscriber.create_snapshot(request={"name": snap, "subscription": sub, "labels": {"k": "v"}})
    later = publish_all(topic, [(f"b{i}".encode(), {"n": str(i)}) for i in range(3)])
    if len(pull_all(sub)) != 3:
        fail("the later three were not delivered")
    subscriber.seek(request={"subscription": sub, "snapshot": snap})
    after_snapshot = sorted(pull_all(sub))
    subscriber.seek(request={"subscription": sub, "time": before})
    after_time = sorted(pull_all(sub))
    subscriber.seek(request={"subscription": sub, "time": datetime.datetime.now(datetime.timezone.utc)})
    after_now = sorted(pull_all(sub))
    retained_topic = topic_path("kept")
    publisher.create_topic(request={
        "name": retained_topic, "message_retention_duration": duration_pb2.Duration(seconds=86400)})
    early = sub_path("kept-early")
    subscriber.create_subscription(request={"name": early, "topic": retained_topic})
    kept = publish_all(retained_topic, [(f"k{i}".encode(), {}) for i in range(4)])
    pull_all(early)
    late = sub_path("kept-late")
    subscriber.create_subscription(request={"name": late, "topic": retained_topic})
    for name in (early, late):
        subscriber.seek(request={"subscription": name, "time": before})
    topic_retention = {name.rsplit("/", 1)[1]: sorted(pull_all(name)) == sorted(kept) for name in (early, late)}
    listed = [s.name for s in subscriber.list_snapshots(request={"project": f"projects/{PROJECT}"})]
    by_topic = list(publisher.list_topic_snapshots(request={"topic": topic}))
    updated = subscriber.update_snapshot(
        request={"snapshot": {"name": snap, "labels": {"k": "w"}}, "update_mask": {"paths": ["labels"]}})
    fetched = subscriber.get_snapshot(request={"snapshot": snap})
    errors = {
        "duplicate": type(refusal_of(lambda: subscriber.create_snapshot(
            request={"name": snap, "subscription": sub}))).__name__,
        "missing_sub": type(refusal_of(lambda: subscriber.create_snapshot(
            request={"name": subscriber.snapshot_path(PROJECT, "other"), "subscription": sub_path("nope")}))).__name__,
    }
    subscriber.delete_snapshot(request={"snapshot": snap})
    errors["deleted"] = type(refusal_of(lambda: subscriber.get_snapshot(request={"snapshot": snap}))).__name__
    errors["seek_deleted"] = type(refusal_of(lambda: subscriber.seek(
        request={"subscription": sub, "snapshot": snap}))).__name__
    print(json.dumps({
        "snapshot_topic": created.topic,
        "expire_set": created.expire_time is not None and created.expire_time.year > 2000,
        "after_snapshot_is_later": after_snapshot == sorted(later),
        "after_time_is_all": after_time == sorted(first + later),
        "after_now": len(after_now),
        "topic_retention": topic_retention,
        "listed": listed,
        "by_topic": by_topic,
        "labels": dict(updated.labels),
        "fetched_labels": dict(fetched.labels),
        "errors": errors,
    }))


def refusal_of(call):
    try:
        call()
    except exceptions.GoogleAPICallError as err:
        return err
    fail(f"expected an error from {call}")


def limits():
    topic = topic_path("big")
    publisher.create_topic(name=topic)
    sub = sub_path("big")
    subscriber.create_subscription(request={"name": sub, "topic": topic})
    five_mb = os.urandom(5 * 1000 * 1000)
    [big_id] = publish_all(topic, [(five_mb, {"size": "5MB"})])
    # With PUBSUB_EMULATOR_HOST the client opens a plain channel with gRPC's default 4 MiB
    # receive limit (against Google it lifts it); a user receiving big messages lifts it too.
    channel = grpc.insecure_channel(os.environ["PUBSUB_EMULATOR_HOST"],
                                    options=[("grpc.max_receive_message_length", -1)])
    big_reader = pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
    response = big_reader.pull(request={"subscription": sub, "max_messages": 1}, timeout=TIMEOUT)
    got = {r.message.message_id: r for r in response.received_messages}
    intact = got.get(big_id) is not None and got[big_id].message.data == five_mb

    def api_publish(**message):
        return lambda: publisher.api.publish(request={"topic": topic, "messages": [message]}, timeout=TIMEOUT)

    errors = {
        "message_over_10mb": refused(api_publish(data=b"x" * (10_000_000 + 1))),
        "attributes_101": refused(api_publish(data=b"x", attributes={f"k{i}": "v" for i in range(101)})),
        "key_257": refused(api_publish(data=b"x", attributes={"k" * 257: "v"})),
        "value_1025": refused(api_publish(data=b"x", attributes={"k": "v" * 1025})),
        "ordering_key_1025": refused(api_publish(data=b"x", ordering_key="o" * 1025)),
        "count_1001": refused(lambda: publisher.api.publish(
            request={"topic": topic, "messages": [{"data": b"x"}] * 1001}, timeout=TIMEOUT)),
        "retention_32_days": refused(lambda: publisher.create_topic(request={
            "name": topic_path("retained-long"),
            "message_retention_duration": duration_pb2.Duration(seconds=32 * 86400)})),
    }
    errors["iam"] = refused(lambda: publisher.get_iam_policy(request={"resource": topic}),
                            exceptions.MethodNotImplemented)
    errors["bigquery"] = refused(lambda: subscriber.create_subscription(
        request={"name": sub_path("to-bq"), "topic": topic, "bigquery_config": {"table": "p.d.t"}}),
        exceptions.MethodNotImplemented)
    errors["detach"] = refused(lambda: publisher.detach_subscription(request={"subscription": sub}),
                               exceptions.MethodNotImplemented)
    at_limits = publisher.api.publish(
        request={"topic": topic, "messages": [{"data": b"x"}] * 1000}, timeout=TIMEOUT)
    widest = publisher.api.publish(request={"topic": topic, "messages": [{
        "data": b"x", "attributes": {f"{i:0>256}": "v" * 1024 for i in range(100)}, "ordering_key": "o" * 1024,
    }]}, timeout=TIMEOUT)
    retained = publisher.create_topic(request={
        "name": topic_path("retained"), "message_retention_duration": duration_pb2.Duration(seconds=31 * 86400)})
    print(json.dumps({
        "five_mb_intact": intact,
        "at_limits_published": len(at_limits.message_ids) + len(widest.message_ids),
        "retention_seconds": retained.message_retention_duration.total_seconds(),
        "errors": errors,
    }))


def ack_errors(err):
    """The per-ack-id ErrorInfo metadata Google attaches to an exactly-once ack failure."""
    status = rpc_status.from_call(err.response)
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return {"reason": info.reason, "metadata": dict(info.metadata)}
    fail("no ErrorInfo in the error")


def exactly_once_a():
    topic = topic_path("orders")
    publisher.create_topic(name=topic)
    sub = sub_path("orders-eod")
    subscriber.create_subscription(request={"name": sub, "topic": topic, "enable_exactly_once_delivery": True})
    publish_all(topic, [(f"s{i}".encode(), {}) for i in range(3)])
    results, lock, done = [], threading.Lock(), threading.Event()

    def callback(message):
        first = message.ack_with_response().result(timeout=TIMEOUT)
        try:
            message.ack_with_response().result(timeout=TIMEOUT)
            second = "SUCCESS"
        except sub_exceptions.AcknowledgeError as err:
            second = err.error_code.name
        with lock:
            results.append((first.name, second))
            if len(results) == 3:
                done.set()

    streaming = subscriber.subscribe(sub, callback=callback)
    ok = done.wait(TIMEOUT)
    streaming.cancel()
    if not ok:
        fail(f"streaming pull delivered {len(results)} of 3")
    leftover = pull_all(sub, ack=False)
    publish_all(topic, [(f"u{i}".encode(), {}) for i in range(2)])
    leased = pull_all(sub, ack=False)
    print(json.dumps({
        "stream_acks": sorted(results),
        "leftover_after_stream": len(leftover),
        "leased": {mid: r.ack_id for mid, r in leased.items()},
    }))


def exactly_once_b(previous):
    sub = sub_path("orders-eod")
    expired = list(previous["leased"].values())
    try:
        subscriber.acknowledge(request={"subscription": sub, "ack_ids": expired + ["bogus"]})
        fail("acknowledging expired ack ids succeeded")
    except exceptions.InvalidArgument as err:
        expired_result = ack_errors(err)
        message = err.message
    again = pull_all(sub, ack=False)
    ids = [r.ack_id for r in again.values()]
    subscriber.acknowledge(request={"subscription": sub, "ack_ids": ids})
    try:
        subscriber.acknowledge(request={"subscription": sub, "ack_ids": ids})
        twice = "accepted"
    except exceptions.InvalidArgument as err:
        twice = sorted(set(ack_errors(err)["metadata"].values()))
    print(json.dumps({
        "expired": expired_result,
        "message": message,
        "redelivered": sorted(again) == sorted(previous["leased"]),
        "second_ack": twice,
        "after": len(pull_all(sub)),
    }))


def lease_a():
    topic = topic_path("readings")
    dead = topic_path("readings-dead")
    publisher.create_topic(name=topic)
    publisher.create_topic(name=dead)
    policy = {"dead_letter_topic": dead, "max_delivery_attempts": 5}
    publisher.create_topic(name=topic_path("late"))
    for name, on in (("by-pull", topic), ("by-stream", topic), ("late", topic_path("late"))):
        subscriber.create_subscription(request={
            "name": sub_path(name), "topic": on, "ack_deadline_seconds": 10, "dead_letter_policy": policy})
    ids = publish_all(topic, [(f"r{i}".encode(), {"seq": str(i)}) for i in range(50)])
    pulled = pull_all(sub_path("by-pull"), ack=False)
    seen, done = set(), threading.Event()

    def callback(message):
        seen.add(message.message_id)
        if len(seen) == 50:
            done.set()

    subscriber.subscribe(sub_path("by-stream"), callback=callback)
    if not done.wait(TIMEOUT):
        fail(f"the stream received {len(seen)} of 50")
    try:
        subscriber.pull(request={"subscription": sub_path("late"), "max_messages": 100}, timeout=1, retry=None)
        fail("a pull on an empty subscription returned before its deadline")
    except exceptions.DeadlineExceeded:
        pass
    late = publish_all(topic_path("late"), [(f"l{i}".encode(), {}) for i in range(20)])
    print(json.dumps({"published": ids, "pulled": len(pulled), "streamed": len(seen), "late": late}), flush=True)
    os._exit(0)


def lease_b():
    out = {}
    for name in ("by-pull", "by-stream", "late"):
        got = pull_all(sub_path(name))
        out[name] = {"ids": sorted(got), "attempts": sorted({r.delivery_attempt for r in got.values()})}
    print(json.dumps(out))


def memory():
    topic = topic_path("bounded")
    publisher.create_topic(name=topic)
    sub = sub_path("bounded")
    subscriber.create_subscription(request={"name": sub, "topic": topic})

    def publish():
        return publisher.api.publish(
            request={"topic": topic, "messages": [{"data": b"m" * 600}]}, retry=None, timeout=TIMEOUT)

    publish()
    refusal = refused(publish, exceptions.ResourceExhausted)
    drained = len(pull_all(sub))
    publish()
    print(json.dumps({"refusal": refusal, "drained": drained}))


CHECKS = {
    "memory": memory,
    "filters": filters,
    "snapshots": snapshots,
    "limits": limits,
    "exactly-once-a": exactly_once_a,
    "lease-a": lease_a,
    "lease-b": lease_b,
}

if __name__ == "__main__":
    if sys.argv[2] == "exactly-once-b":
        exactly_once_b(json.loads(sys.argv[3]))
    else:
        CHECKS[sys.argv[2]]()
