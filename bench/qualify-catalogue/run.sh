#!/usr/bin/env bash
# Wall time of the device catalogue (without refresh and outage) for one good device: the Pi
# stand-in with its defaults (backoff 1 s … 32 s, CONNACK timeout 10 s, keep-alive 60 s,
# telemetry every 1 s) against `fleetgate qualify`. Prints each case's time and the total.
# Usage: bench/qualify-catalogue/run.sh [path/to/fleetgate]   (default: target/release/fleetgate)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/fleetgate}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" qualify bench/qualify-catalogue/quick.toml --out "$work/out" >"$work/announce.json" 2>"$work/qualify.log" &
qualify=$!
for _ in $(seq 1 100); do [ -s "$work/announce.json" ] && break; sleep 0.1; done
port=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['bridge']['mqtt'].rsplit(':',1)[1])" "$work/announce.json")
python3 fixtures/pi/pi_device.py --host localhost --port "$port" --ca "$work/out/ca.pem" \
  --project demo-project --region us-central1 --registry pi-fleet --device pi-1 \
  --key fixtures/pi/pi-1.key --alg ES256 --duration 900 2>"$work/device.log" &
wait "$qualify" || true
python3 - "$work/out/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
total = 0.0
for case in report["cases"]:
    total += case["duration_secs"]
    print(f'{case["id"]:<32} {case["verdict"]:<8} {case["duration_secs"]:6.1f} s')
print(f'{"all cases":<32} {report["outcome"]:<8} {total:6.1f} s (run {report["run"]["duration_secs"]:.1f} s)')
PY
