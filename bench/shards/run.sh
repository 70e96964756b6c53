#!/usr/bin/env bash
# A sharded capacity run on one machine: `fleetgate serve` is the bridge and Pub/Sub under
# test, SHARDS processes of `fleetgate run --shard I/SHARDS` drive PER_SHARD devices each from a
# common start, and `fleetgate report merge` joins their reports. Prints the merged figures,
# each shard's time to all connected and memory per device, and serve's memory.
# Usage: bench/shards/run.sh [SHARDS] [PER_SHARD] [HOLD] [EVERY]   (defaults: 4 4900 60s 10s)
# One process may hold 20,000 descriptors here, and serve holds one per device: 4 × 4,900 fits.
set -euo pipefail
cd "$(dirname "$0")/../.."
shards="${1:-4}"
per_shard="${2:-4900}"
hold="${3:-60s}"
every="${4:-10s}"
devices=$((shards * per_shard))
cargo build --release -q -p fleetgate
target="${CARGO_TARGET_DIR:-target}"
[[ "$target" = /* ]] || target="$PWD/$target"
bin="$target/release/fleetgate"
work="${WORK:-$(mktemp -d)}"
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill -INT "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
}
trap cleanup EXIT

fleet() {
  cat <<TOML
[scenario]
name = "sharded-capacity"
seed = 11
[[cohort]]
name = "pis"
devices = $devices
device_id = "pi-{index:05}"
key = { alg = "ES256", format = "ES256_PEM" }
telemetry = { every = "$every", payload_bytes = 200, qos = 1 }
connect_rate = "500/s"
TOML
}
fleet > "$work/serve.toml"
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
{
  fleet
  cat <<TOML
[target]
bridge = { host = "localhost", port = ${mqtt##*:}, ca = "$ca" }
pubsub = { emulator = "$emulator" }
[[phase]]
name = "steady"
ramp = "20s"
hold = "$hold"
[gates]
"messages.lost" = { max = 0 }
"connect.success_ratio" = { min = 1.0 }
TOML
} > "$work/fleet.toml"
start=$(date -u -d '+40 seconds' +%Y-%m-%dT%H:%M:%SZ)
pids=()
for i in $(seq 0 $((shards - 1))); do
  "$bin" run "$work/fleet.toml" --shard "$i/$shards" --start-at "$start" --out "$work/shard-$i" \
    2>"$work/shard-$i.log" &
  pids+=($!)
done
codes=()
for pid in "${pids[@]}"; do
  set +e; wait "$pid"; codes+=($?); set -e
done
serve_kib=$(awk '/VmHWM/ {print $2}' "/proc/$serve_pid/status")
set +e
"$bin" report merge $(for i in $(seq 0 $((shards - 1))); do echo "$work/shard-$i"; done) \
  --out "$work/merged" 2>"$work/merge.log"
merge_code=$?
set -e
echo "start at $start; shard exit codes: ${codes[*]}; merge exit code: $merge_code; reports in $work"
python3 - "$work" "$shards" "$serve_kib" "$devices" <<'PY'
import json, sys, re
work, shards, kib, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = json.load(open(f"{work}/merged/report.json"))
m = {k: v["value"] for k, v in r["measurements"].items()}
for k in ["connects.accepted", "messages.acked", "messages.delivered", "messages.lost",
          "messages.duplicated", "messages.reordered", "connect.p99", "publish.puback.p99",
          "pipeline.pubsub.p99", "pipeline.pubsub.count"]:
    print(f"{k:26} {m.get(k)}")
for note in r["notes"]:
    if re.search(r"connected at once|peak resident|other shards", note):
        print(note)
print(f"serve (bridge + Pub/Sub) peak RSS: {kib/1024:.1f} MiB, {kib/n:.1f} KiB per device")
PY
