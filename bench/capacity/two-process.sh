#!/usr/bin/env bash
# Capacity with the embedded stack in a second process (issue 6a, 10,000 devices): one process
# has only a 20,000 file-descriptor hard limit here and an in-process run needs two per device,
# so `fleetgate serve` runs the bridge and Pub/Sub, and `fleetgate run` drives 10,000 virtual
# Pis (same seed, so the same keys) against them over TLS, consuming Pub/Sub over gRPC.
# Usage: bench/capacity/two-process.sh [DEVICES] [HOLD]   (defaults: 10000 60s)
#   IDLE=1 bench/capacity/two-process.sh 10000 30s   # devices connect and stay idle (no telemetry):
#                                                     # the fleet's memory per idle TLS device
#   CONNECT_RATE=500/s …                              # devices connect at most 500 a second (default: all at once)
#   LANES=2 …                                         # fleetgate run --lanes 2 (default: half the cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
devices="${1:-10000}"
hold="${2:-60s}"
cargo build --release -q -p fleetgate
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
bin="$target_dir/release/fleetgate"
work=$(mktemp -d)
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill -INT "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/serve.toml" <<TOML
[scenario]
name = "capacity-serve"
seed = 11
[[cohort]]
name = "pis"
devices = $devices
device_id = "pi-{index:05}"
key = { alg = "ES256", format = "ES256_PEM" }
TOML
"$bin" serve "$work/serve.toml" --out "$work/serve" >"$work/serve.json" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 1 600); do
  [ -s "$work/serve.json" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log"; exit 3; }
  sleep 0.2
done
read -r mqtt ca emulator < <(python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
print(a["bridge"]["mqtt"], a["bridge"]["ca"], a["pubsub"]["emulator"])' "$work/serve.json")
host="${mqtt%:*}"
port="${mqtt##*:}"
telemetry='telemetry = { every = "1s", payload_bytes = 200, qos = 1 }'
gates=$'[gates]\n"messages.lost" = { max = 0 }\n"pipeline.delivered_ratio" = { min = 1.0 }\n"connect.success_ratio" = { min = 1.0 }'
if [ "${IDLE:-0}" = 1 ]; then
  telemetry=
  gates=$'[gates]\n"connect.success_ratio" = { min = 1.0 }'
fi
connect_rate=
[ -n "${CONNECT_RATE:-}" ] && connect_rate="connect_rate = \"${CONNECT_RATE}\""
cat > "$work/run.toml" <<TOML
[scenario]
name = "capacity-two-process"
seed = 11
[target]
bridge = { host = "localhost", port = $port, ca = "$ca", tls = true, profile = "google" }
pubsub = { emulator = "$emulator" }
[[cohort]]
name = "pis"
devices = $devices
device_id = "pi-{index:05}"
key = { alg = "ES256", format = "ES256_PEM" }
$telemetry
$connect_rate
[[phase]]
name = "steady"
hold = "$hold"
$gates
TOML
set +e
"$bin" run "$work/run.toml" ${LANES:+--lanes "$LANES"} --out "$work/run" 2>"$work/run.log"
code=$?
set -e
serve_kib=$(awk '/VmHWM/ {print $2}' "/proc/$serve_pid/status")
echo "bridge host ${host}; exit code of the run: $code"
grep -E "connected at once|peak resident" "$work/run/summary.md" || true
python3 - "$work/run/report.json" "$serve_kib" "$devices" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = {k: v["value"] for k, v in r["measurements"].items()}
kib, n = int(sys.argv[2]), int(sys.argv[3])
for k in ["connects.attempts", "connects.accepted", "connects.refused", "connects.failed",
          "connect_errors.closed", "connect_errors.timeout", "connect_errors.io", "connect_errors.tls",
          "reconnects", "connect.p50", "messages.sent", "messages.acked", "messages.delivered", "messages.lost",
          "messages.duplicated", "connect.p99", "publish.puback.p99", "pipeline.pubsub.p99", "sign.es256.p99"]:
    print(f"{k:24} {m.get(k)}")
print(f"bridge+pubsub process peak RSS: {kib/1024:.1f} MiB, {kib/n:.1f} KiB per device")
PY
