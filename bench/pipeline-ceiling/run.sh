#!/usr/bin/env bash
# The end-to-end pipeline ceiling (issue 6c): virtual Pis (50 msgs/s each, at least 100 of them) over
# TLS into the embedded bridge,
# forwarded to the embedded Pub/Sub and consumed downstream, at rising offered rates. For each
# rate: what was acknowledged per second, what arrived downstream, and the latencies.
# Usage: bench/pipeline-ceiling/run.sh [RATE…]   (total msgs/s offered; default 2000 … 40000)
set -euo pipefail
cd "$(dirname "$0")/../.."
# BIN=/path/to/fleetgate measures another build (an older commit's, for a before/after table);
# LANES=2 passes --lanes 2 (default: half the cores).
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p fleetgate
fi
bin="${BIN:-${CARGO_TARGET_DIR:-target}/release/fleetgate}"
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(2000 5000 10000 20000 40000)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%8s %8s %10s %10s %10s %8s %12s %12s %12s\n' offered devices acked/s delivered lost dup "puback p99" "pubsub p99" "pubsub p999"
for rate in "${rates[@]}"; do
  # 50 msgs/s per device: half the 100/s per connection a conforming bridge allows.
  devices=$(( rate / 50 < 100 ? 100 : rate / 50 ))
  every_us=$(( devices * 1000000 / rate ))
  cat > "$work/ceiling.toml" <<TOML
[scenario]
name = "ceiling-$rate"
seed = 5
[[cohort]]
name = "pis"
devices = $devices
device_id = "pi-{index:05}"
key = { alg = "ES256", format = "ES256_PEM" }
telemetry = { every = "${every_us}us", payload_bytes = 200, qos = 1, payload = "binary" }
offline_queue = 100000
[[phase]]
name = "steady"
ramp = "1s"
hold = "20s"
TOML
  "$bin" run "$work/ceiling.toml" ${LANES:+--lanes "$LANES"} --out "$work/out-$rate" >/dev/null 2>"$work/log-$rate" || true
  python3 - "$work/out-$rate/report.json" "$rate" "$devices" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = {k: v["value"] for k, v in r["measurements"].items()}
g = lambda k: m.get(k, float("nan"))
print("%8s %8s %10.0f %10.0f %10.0f %8.0f %10.1fms %10.1fms %10.1fms" % (
    sys.argv[2], sys.argv[3], g("publish.throughput"), g("messages.delivered"), g("messages.lost"),
    g("messages.duplicated"), g("publish.puback.p99") / 1000, g("pipeline.pubsub.p99") / 1000,
    g("pipeline.pubsub.p999") / 1000))
PY
done
