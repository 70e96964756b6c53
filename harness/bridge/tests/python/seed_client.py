"""A Raspberry Pi client written like the seed guide: paho-mqtt over TLS, a JWT minted with
PyJWT from the device's private key file, telemetry on /devices/{id}/events with QoS 1 and the
config subscription on /devices/{id}/config. Prints one JSON line with what happened."""

import json
import ssl
import sys
import threading
import time

import jwt
import paho.mqtt.client as mqtt


def generate_jwt(project_id, private_key_file, algorithm):
    token = {
        "iat": int(time.time()),
        "exp": int(time.time()) + 3600,
        "aud": project_id,
    }
    with open(private_key_file, "r") as f:
        private_key = f.read()
    return jwt.encode(token, private_key, algorithm=algorithm)


def main():
    host, port, ca, project, region, registry, device, key_file, algorithm, audience = sys.argv[1:11]
    client_id = f"projects/{project}/locations/{region}/registries/{registry}/devices/{device}"
    result = {"connack": None, "published": False, "config": None}
    done = threading.Event()

    client = mqtt.Client(client_id=client_id)
    client.username_pw_set(username="unused", password=generate_jwt(audience, key_file, algorithm))
    client.tls_set(ca_certs=ca, tls_version=ssl.PROTOCOL_TLSv1_2)

    def on_connect(client, userdata, flags, rc):
        result["connack"] = rc
        if rc != 0:
            done.set()
            return
        client.subscribe(f"/devices/{device}/config", qos=1)
        client.publish(f"/devices/{device}/events", payload=json.dumps({"temperature": 21.5}), qos=1)

    def on_publish(client, userdata, mid):
        result["published"] = True
        if result["config"] is not None:
            done.set()

    def on_message(client, userdata, message):
        result["config"] = message.payload.decode()
        if result["published"]:
            done.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.on_message = on_message
    client.connect(host, int(port), keepalive=60)
    client.loop_start()
    done.wait(timeout=30)
    client.disconnect()
    client.loop_stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
