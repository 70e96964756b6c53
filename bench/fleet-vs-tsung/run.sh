#!/usr/bin/env bash
# Issue 6b: fleetgate's virtual fleet against Debian's tsung, side by side on one local mosquitto
# broker over TLS. Each generator sends DEVICES x MESSAGES QoS 1 PUBLISHes of PAYLOAD bytes; the
# script prints, per generator and round: the messages it counted, the broker's own count (delta
# of $SYS/broker/publish/messages/received), its CPU seconds (user+sys of the whole process tree,
# from /usr/bin/time), wall seconds, CPU seconds per million messages, and the ratio of
# messages per CPU-second (fleetgate / tsung).
#
#   bench/fleet-vs-tsung/run.sh                 # 100 x 10,000 x 100 B over TLS, 3 rounds
#   ROUNDS=1 DEVICES=4 MESSAGES=100 bench/fleet-vs-tsung/run.sh    # a quick check
#   TLS=false bench/fleet-vs-tsung/run.sh       # plain TCP: fleetgate, tsung and mqtt-benchmark
#   TLS=false GENERATORS="fleet mqttbench" bench/fleet-vs-tsung/run.sh
#   LANES=2 …                               # fleetgate run --lanes 2 (default: half the cores)
#
# mqtt-benchmark 0.2.4 (crates.io, rumqttc-based; plain TCP only) is built once into
# $CARGO_TARGET_DIR/mqtt-benchmark. It counts a message once its client took it, not once it was
# acknowledged, so its own count can exceed the broker's; the table compares both with the broker.
#
# Knobs (environment): ROUNDS (3), DEVICES (100), MESSAGES (10000), PAYLOAD (100), TLS (true),
# EVERY (fleetgate's telemetry interval per device, "1us": every message is due at once, so the
# fleet runs as fast as it can, like tsung's loop without think time), GENERATORS ("fleet tsung"),
# CARGO_TARGET_DIR (./target), KEEP (1: keep the temp dir).
#
# Everything binds 127.0.0.1; every process it starts runs under `timeout` and is stopped on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DEVICES=${DEVICES:-100}
MESSAGES=${MESSAGES:-10000}
PAYLOAD=${PAYLOAD:-100}
TLS=${TLS:-true}
EVERY=${EVERY:-1us}
if [ "${TLS:-true}" = true ]; then GENERATORS=${GENERATORS:-fleet tsung}; else GENERATORS=${GENERATORS:-fleet tsung mqttbench}; fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
expected=$((DEVICES * MESSAGES))
limit=1200 # seconds any one generator may take

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools -------------------------------------------------------------------------------------
need=()
[ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null || need+=(mosquitto-clients)
case " $GENERATORS " in *" tsung "*) command -v tsung >/dev/null || need+=(tsung) ;; esac
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    timeout 900 apt-get install -y "${need[@]}" >/dev/null
fi
command -v openssl >/dev/null || die "openssl is missing"
command -v python3 >/dev/null || die "python3 is missing (reads report.json and tsung.log)"

log "building fleetgate (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
(cd "$repo" && timeout 1800 cargo build --release -p fleetgate --quiet)
fleetgate=$CARGO_TARGET_DIR/release/fleetgate
[ -x "$fleetgate" ] || die "no binary at $fleetgate"
mqttbench=$CARGO_TARGET_DIR/mqtt-benchmark/bin/mqtt-benchmark
case " $GENERATORS " in *" mqttbench "*)
    [ "$TLS" = true ] && die "mqtt-benchmark speaks plain TCP only: run it with TLS=false"
    if [ ! -x "$mqttbench" ]; then
        log "building mqtt-benchmark 0.2.4 into $CARGO_TARGET_DIR/mqtt-benchmark"
        timeout 1800 cargo install mqtt-benchmark --version 0.2.4 --locked --quiet --root "$CARGO_TARGET_DIR/mqtt-benchmark"
    fi ;;
esac

# --- temp dir, certificates, broker --------------------------------------------------------------
work=$(mktemp -d /tmp/fleet-vs-tsung.XXXXXX)
broker_pid=""
epmd_before=$(pgrep -x epmd || true)
cleanup() {
    if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
    # tsung's VM starts epmd as a daemon; stop it only if this script started it.
    local pid
    for pid in $(pgrep -x epmd || true); do
        grep -qx "$pid" <<<"$epmd_before" || kill "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key" 2>/dev/null
openssl req -x509 -new -key "$work/ca.key" -sha256 -days 2 -subj "/CN=fleet-vs-tsung CA" \
    -out "$work/ca.pem" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$work/server.key" 2>/dev/null
openssl req -new -key "$work/server.key" -subj "/CN=localhost" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile "$work/server.ext" -out "$work/server.pem" 2>/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
    echo "per_listener_settings false"
    echo "user $(id -un)" # as root mosquitto would switch to user mosquitto, who cannot read $work
    echo "listener $port 127.0.0.1"
    if [ "$TLS" = true ]; then
        echo "cafile $work/ca.pem"
        echo "certfile $work/server.pem"
        echo "keyfile $work/server.key"
    fi
    echo "allow_anonymous true"
    echo "persistence false"
    echo "sys_interval 1"
    echo "max_inflight_messages 65535"
    echo "max_queued_messages 1000000"
    echo "max_keepalive 65535"
    echo "log_dest file $work/mosquitto.log"
    echo "log_type error"
    echo "log_type warning"
} >"$work/mosquitto.conf"
timeout $((limit * 2 * ROUNDS + 600)) /usr/sbin/mosquitto -c "$work/mosquitto.conf" &
broker_pid=$!

sub_args=(-h 127.0.0.1 -p "$port")
[ "$TLS" = true ] && sub_args+=(--cafile "$work/ca.pem")

# One reading of a $SYS counter (retained, so it arrives at once once the broker published it).
sys_read() {
    mosquitto_sub "${sub_args[@]}" -i "fvt-sys-$$" -t "$1" -C 1 -W 10
}

# The counter once it has settled. mosquitto republishes its $SYS tree on a tick (every 2 s with
# sys_interval 1: it waits until more than sys_interval whole seconds have passed), and
# $SYS/broker/uptime changes on every tick. So: after each new uptime (a new tick, whose counters
# are all published before the broker serves the next subscription), read the counter, until
# the readings of two consecutive ticks agree.
sys_settled() {
    local topic=$1 uptime previous="" current now polls=0
    uptime=$(sys_read '$SYS/broker/uptime') || die "no reading of \$SYS/broker/uptime"
    while :; do
        sleep 0.25
        polls=$((polls + 1))
        [ $polls -lt 600 ] || die "$topic did not settle"
        now=$(sys_read '$SYS/broker/uptime') || die "no reading of \$SYS/broker/uptime"
        [ "$now" != "$uptime" ] || continue
        uptime=$now
        current=$(sys_read "$topic") || die "no reading of $topic"
        [ "$current" = "$previous" ] && { echo "$current"; return; }
        previous=$current
    done
}

received_topic='$SYS/broker/publish/messages/received'
for _ in $(seq 50); do
    kill -0 "$broker_pid" 2>/dev/null || die "mosquitto did not start: $(cat "$work/mosquitto.log" 2>/dev/null)"
    sys_read "$received_topic" >/dev/null 2>&1 && break
    sleep 0.2
done

# CPU seconds (user+sys) mosquitto has used so far, from /proc.
broker_cpu() {
    local mosq
    mosq=$(pgrep -P "$broker_pid" -x mosquitto || echo "$broker_pid")
    python3 - "$mosq" <<'PY'
import os, sys
fields = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
PY
}

payload_text=$(head -c "$PAYLOAD" </dev/zero | tr '\0' 'x')
transport=tcp
[ "$TLS" = true ] && transport=ssl

# --- generators ----------------------------------------------------------------------------------
# Each prints one line: name counted broker_delta cpu wall load_before load_after broker_cpu.
run_fleet() {
    local round=$1 dir=$work/fleet-$1
    mkdir -p "$dir"
    cp "$work/ca.pem" "$dir/ca.pem"
    sed -e "s/@PORT@/$port/" -e "s/@TLS@/$TLS/" -e "s/@DEVICES@/$DEVICES/" \
        -e "s/@MESSAGES@/$MESSAGES/g" -e "s/@PAYLOAD@/$PAYLOAD/" -e "s/@EVERY@/$EVERY/" \
        -e "s/@HOLD@/${limit}s/" "$here/fleet.toml.in" >"$dir/scenario.toml"
    (cd "$dir" && timeout $((limit + 60)) /usr/bin/time -f '%U %S %e' -o "$dir/time" \
        "$fleetgate" run scenario.toml ${LANES:+--lanes "$LANES"} --out "$dir/out" >"$dir/stdout" 2>"$dir/stderr") ||
        log "fleetgate exited with $? (round $round; see $dir/stderr)"
    python3 - "$dir/out/report.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["measurements"]
get = lambda k: int(m[k]["value"]) if k in m else 0
print(get("messages.acked"), get("messages.sent"), get("connects.accepted"))
PY
}

run_tsung() {
    local round=$1 dir=$work/tsung-$1
    mkdir -p "$dir/log"
    sed -e "s/@PORT@/$port/" -e "s/@TRANSPORT@/$transport/" -e "s/@DEVICES@/$DEVICES/g" \
        -e "s/@MESSAGES@/$MESSAGES/g" -e "s/@PAYLOAD@/$PAYLOAD/g" -e "s/@PAYLOAD_TEXT@/$payload_text/" \
        "$here/tsung.xml.in" >"$dir/tsung.xml"
    # Loopback only: epmd and the VM's distribution listener; -n: no web GUI.
    (cd "$dir" && ERL_EPMD_ADDRESS=127.0.0.1 ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        HOME="$dir" timeout $((limit + 60)) /usr/bin/time -f '%U %S %e' -o "$dir/time" \
        tsung -n -f "$dir/tsung.xml" -l "$dir/log" start >"$dir/stdout" 2>"$dir/stderr") ||
        log "tsung exited with $? (round $round; see $dir/stderr)"
    python3 - "$dir/log" <<'PY'
import glob, sys
totals = {}
for path in glob.glob(sys.argv[1] + "/*/tsung.log"):
    for line in open(path):
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "stats:":
            totals[parts[1]] = int(float(parts[3]))
print(totals.get("mqtt_server_pubacked", 0), totals.get("mqtt_published", 0), totals.get("mqtt_connected", 0))
PY
}

run_mqttbench() {
    local round=$1 dir=$work/mqttbench-$1
    mkdir -p "$dir"
    (cd "$dir" && timeout $((limit + 60)) /usr/bin/time -f '%U %S %e' -o "$dir/time" \
        "$mqttbench" -b "127.0.0.1:$port" -c "mb-$round" -t /devices/mb/events -q 1 \
        -P "$payload_text" -s "$MESSAGES" -C "$DEVICES" >"$dir/stdout" 2>"$dir/stderr") ||
        log "mqtt-benchmark exited with $? (round $round; see $dir/stderr)"
    python3 - "$dir/stdout" "$DEVICES" <<'PY'
import re, sys
total = 0
for line in open(sys.argv[1]):
    m = re.search(r"total: (\d+)", line)
    if m:
        total = int(m.group(1))
print(total, total, sys.argv[2])
PY
}

results=$work/results
: >"$results"
for round in $(seq "$ROUNDS"); do
    order=$GENERATORS
    # Alternate who goes first, so neither always meets a freshly started broker.
    [ $((round % 2)) -eq 0 ] && order=$(tr ' ' '\n' <<<"$GENERATORS" | tac | tr '\n' ' ')
    for gen in $order; do
        before=$(sys_settled "$received_topic")
        bcpu_before=$(broker_cpu)
        load_before=$(cut -d' ' -f1 /proc/loadavg)
        log "round $round: $gen (broker count before: $before)"
        counts=$("run_$gen" "$round")
        load_after=$(cut -d' ' -f1 /proc/loadavg)
        after=$(sys_settled "$received_topic")
        bcpu_after=$(broker_cpu)
        read -r user sys wall <"$work/$gen-$round/time"
        read -r acked sent connected <<<"$counts"
        echo "$round $gen $acked $sent $connected $((after - before)) $user $sys $wall $load_before $load_after $bcpu_before $bcpu_after" >>"$results"
        log "round $round: $gen acked=$acked sent=$sent broker_delta=$((after - before)) cpu=$user+$sys wall=$wall"
    done
done

# --- table ----------------------------------------------------------------------------------------
python3 - "$results" "$expected" "$TLS" "$DEVICES" "$MESSAGES" "$PAYLOAD" "$(nproc)" "$EVERY" <<'PY'
import sys
path, expected, tls, devices, messages, payload, cores, every = sys.argv[1:]
rows = [l.split() for l in open(path) if l.strip()]
print(f"\n{devices} devices x {messages} QoS 1 messages x {payload} B, TLS={tls}, {cores} cores; "
      f"expected {int(expected):,} per generator")
head = ("round", "generator", "counted", "broker $SYS delta", "exact", "CPU s (user+sys)", "wall s",
        "CPU s / 1M msgs", "msgs / CPU s", "broker CPU s", "load 1m before/after")
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
per_round = {}
for r in rows:
    rnd, gen, acked, sent, conn, delta = r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5])
    user, sys_, wall = float(r[6]), float(r[7]), float(r[8])
    cpu = user + sys_
    rate = delta / cpu if cpu else 0.0
    exact = "yes" if acked == delta == int(expected) else "NO"
    per_round.setdefault(rnd, {})[gen] = rate
    broker = float(r[12]) - float(r[11])
    if broker > 0:
        per_round[rnd]["broker:" + gen] = cpu / broker
    print(f"| {rnd} | {gen} | {acked:,} acked / {sent:,} sent ({conn} connects) | {delta:,} | {exact} | "
          f"{cpu:.2f} ({user:.2f}+{sys_:.2f}) | {wall:.2f} | {cpu / delta * 1e6 if delta else 0:.2f} | "
          f"{rate:,.0f} | {float(r[12]) - float(r[11]):.2f} | {r[9]}/{r[10]} |")
print()
# Issue 17's targets: over TLS >= 4.5x tsung in a burst (EVERY=1us), >= 3.5x paced; plain TCP
# >= 1.5x mqtt-benchmark.
targets = {"tsung": (4.5 if every == "1us" else 3.5) if tls == "true" else None, "mqttbench": 1.5}
for rnd, rates in per_round.items():
    for other, target in targets.items():
        if rates.get("fleet") and rates.get(other):
            ratio = rates["fleet"] / rates[other]
            verdict = "" if target is None else (" (meets" if ratio >= target else " (MISSES") + f" the >= {target}x target)"
            print(f"round {rnd}: fleetgate / {other} messages per CPU-second = {ratio:.2f}x{verdict}")
    if rates.get("fleet") and rates.get("broker:fleet"):
        print(f"round {rnd}: fleetgate CPU per message / mosquitto's for the same run = {rates['broker:fleet']:.2f}x")
PY
