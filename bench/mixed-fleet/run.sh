#!/usr/bin/env bash
# What 1,000 faulty Pis cost 4,000 good ones on the embedded bridge: runs
# scenarios/mixed-fleet.toml, then the same scenario with the good cohort alone, ROUNDS times
# each, alternating, and prints the good devices' connect and PUBACK latency, the refused
# connects, and the CPU time of the whole run.
# Usage: bench/mixed-fleet/run.sh [ROUNDS] [path/to/fleetgate]   (default: 2, target/release/fleetgate)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
bin=${2:-target/release/fleetgate}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The good cohort alone: everything from the second [[cohort]] to the [[phase]] dropped, and the
# gates on the other cohorts with it.
python3 - scenarios/mixed-fleet.toml "$work/good-only.toml" <<'PY'
import sys
text = open(sys.argv[1]).read()
head, rest = text.split("\n[[cohort]]", 1)
good, rest = rest.split("\n[[cohort]]", 1)
phase = rest[rest.index("[[phase]]"):]
lines = [l for l in phase.splitlines() if not l.startswith(('"cohort.alg-none', '"refusals.'))]
open(sys.argv[2], "w").write(head + "\n[[cohort]]" + good + "\n" + "\n".join(lines) + "\n")
PY
for round in $(seq 1 "$rounds"); do
  for variant in mixed good-only; do
    file=scenarios/mixed-fleet.toml
    [ "$variant" = good-only ] && file="$work/good-only.toml"
    out="$work/$variant-$round"
    /usr/bin/time -f "%U %S" -o "$work/time" "$bin" run "$file" --out "$out" >/dev/null 2>"$work/log" || true
    python3 - "$out/report.json" "$work/time" "$variant" "$round" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = {k: v["value"] for k, v in r["measurements"].items()}
user, sys_ = (float(x) for x in open(sys.argv[2]).read().split()[-2:])
# With the good cohort alone, its measurements are the fleet's.
g = lambda k: m.get(k, m.get(k.replace("cohort.good.", ""), float("nan")))
ms = lambda k: g(k) / 1000
print(f'{sys.argv[3]:<10} round {sys.argv[4]}: outcome {r["outcome"]}, cohorts failed '
      f'{sum(c["verdict"] == "failed" for c in r.get("cohorts", []))}, '
      f'good connect p50/p99 {ms("cohort.good.connect.p50"):.1f}/{ms("cohort.good.connect.p99"):.1f} ms, '
      f'good PUBACK p50/p99 {ms("cohort.good.publish.puback.p50"):.2f}/{ms("cohort.good.publish.puback.p99"):.2f} ms, '
      f'good acked {g("cohort.good.messages.acked"):.0f}, lost {g("cohort.good.messages.lost"):.0f}, '
      f'refused connects {g("connects.refused"):.0f}, CPU {user + sys_:.1f} s')
PY
  done
done
