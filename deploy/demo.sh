#!/usr/bin/env bash
# README command one: on a fresh Debian 12 machine (as root) install, build, bring up the
# lab (network namespace + veth), start fanout-dataplane on it, run a short publish/subscribe
# demo with fanout-loadgen (1 publisher -> 10 subscribers, QoS 1, then QoS 0), and during the
# QoS 0 run a staged rollout of a new routing generation through fanout-control and fanoutctl;
# every demo publish also goes to a Redis Streams sink (a redis-server of the demo's own);
# print what was delivered, the rollout, the sink and the dataplane's stats, and clean up again.
set -Eeuo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
BUILD=${BUILD:-build}
NAME=demo
PREFIX=fo-demo-$$
STATS=$(mktemp /tmp/fanout-demo-stats.XXXXXX.json)
DP_LOG=$(mktemp /tmp/fanout-demo-dp.XXXXXX.log)
DP_PID=
CTL_PID=
REDIS_PID=
REDIS_PORT=17390
CTL_DIR=$(mktemp -d /tmp/fanout-demo-control.XXXXXX)

say() { printf '\n== %s\n' "$*"; }
cleanup() {
  set +e
  if [[ -n $CTL_PID ]] && kill -0 "$CTL_PID" 2>/dev/null; then
    kill -TERM "$CTL_PID"; wait "$CTL_PID"
  fi
  if [[ -n $DP_PID ]] && kill -0 "$DP_PID" 2>/dev/null; then
    kill -TERM "$DP_PID"; wait "$DP_PID"
  fi
  if [[ -n $REDIS_PID ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill -TERM "$REDIS_PID"; wait "$REDIS_PID"
  fi
  "$REPO/deploy/lab.sh" down --name "$NAME" --kill >/dev/null 2>&1
  rm -rf "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT

[[ $(id -u) -eq 0 ]] || { echo "demo.sh: run as root (it creates network namespaces and uses hugepages)" >&2; exit 1; }

say "installing Debian packages"
"$REPO/deploy/install-deps.sh"
say "building ($BUILD)"
[[ -f $BUILD/build.ninja ]] || meson setup "$BUILD" --buildtype=release >/dev/null
meson compile -C "$BUILD" >/dev/null
"$REPO/deploy/hugepages.sh" 512

say "bringing up the lab"
"$REPO/deploy/lab.sh" up --name "$NAME"
# shellcheck disable=SC1090
source "$REPO/.lab/$NAME.env"

say "starting redis-server on 127.0.0.1:$REDIS_PORT (the sink's, no persistence)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$CTL_DIR" \
  --logfile "$CTL_DIR/redis.log" &
REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1 && break; sleep 0.1; done

say "starting fanout-dataplane on $LAB_DP_IF (net_af_packet), appliance $LAB_APPLIANCE_IP"
sed "s/198.18.0.1\/24/$LAB_APPLIANCE_IP\/24/" deploy/lab.yaml > "/tmp/$PREFIX.yaml"
# Generation 1 relays demo/# to a collector at the client's :9000 and writes it to the Redis
# stream demo:<topic>; the canary rolled out later relays to :9001 instead.
cat >> "/tmp/$PREFIX.yaml" <<EOF
sinks: [{ name: redis, redis: "127.0.0.1:$REDIS_PORT" }]
routes:
  - { name: collectors, filter: "demo/#", to: ["$LAB_CLIENT_IP:9000"] }
  - { name: streams, filter: "demo/#", sink: redis, stream: "demo:{topic}" }
EOF
sed "s/$LAB_CLIENT_IP:9000/$LAB_CLIENT_IP:9001/" "/tmp/$PREFIX.yaml" > "/tmp/$PREFIX.canary.yaml"
read -ra DP_MEM_ARGS <<<"${DP_MEM:--m 512}"   # EAL memory options, e.g. DP_MEM="--no-huge -m 512"
"$BUILD/dataplane/fanout-dataplane" -l 0,1 --no-pci --file-prefix "$PREFIX" "${DP_MEM_ARGS[@]}" \
  --vdev "net_af_packet0,iface=$LAB_DP_IF" -- --config "/tmp/$PREFIX.yaml" --stats "$STATS" \
  --control "$CTL_DIR/dataplane.sock" >"$DP_LOG" 2>&1 &
DP_PID=$!
for _ in $(seq 100); do grep -q 'ready' "$DP_LOG" && break; kill -0 $DP_PID || break; sleep 0.1; done
grep -q 'ready' "$DP_LOG" || { cat "$DP_LOG"; echo "dataplane did not start" >&2; exit 1; }
grep -E '^(port|lcore)' "$DP_LOG"

LG="$(cd "$BUILD" && pwd)/bench/fanout-loadgen"
CTL="$BUILD/control/fanoutctl --token-file $CTL_DIR/control.token -h 127.0.0.1 -p 17379"
say "starting fanout-control (RESP 127.0.0.1:17379, HTTP and dashboard http://127.0.0.1:17380/)"
"$BUILD/control/fanout-control" --dataplane "$CTL_DIR/dataplane.sock" --state-dir "$CTL_DIR" \
  --listen 127.0.0.1:17379 --http 127.0.0.1:17380 --poll-ms 200 >"$CTL_DIR/control.log" 2>&1 &
CTL_PID=$!
for _ in $(seq 50); do $CTL status >/dev/null 2>&1 && break; sleep 0.1; done
$CTL status
say "the dashboard (the access token rides in the URL's #fragment): $($CTL dashboard)"
say "ping the appliance from the client namespace"
ip netns exec "$LAB_NS" ping -c 3 -i 0.2 -W 1 "$LAB_APPLIANCE_IP" | tail -2

say "QoS 1: 1 publisher -> 10 subscribers (demo/#), 2000 messages at 1000 msg/s"
ip netns exec "$LAB_NS" "$LG" --gateway "$LAB_APPLIANCE_IP" -p 1 -s 10 --topic 'demo/{pub}/temp' \
  --filter 'demo/#' --qos 1 --sub-qos 1 --rate 1000 --count 2000 --expect-no-loss

say "QoS 0: 20 publishers -> 10 subscribers, 8 s at 250 msg/s each, while a new routing generation rolls out (fanoutctl config apply; rollout start 10 % -> 50 % -> 100 %)"
ip netns exec "$LAB_NS" "$LG" --gateway "$LAB_APPLIANCE_IP" -p 20 -s 10 --topic 'demo/{pub}/temp' \
  --filter 'demo/+/temp' --qos 0 --rate 250 --duration 8 &
LG_PID=$!
sleep 1
$CTL config apply "/tmp/$PREFIX.canary.yaml"
$CTL rollout start --steps 10,50,100 --hold 1.5s --gate 'drop_rate<0.01' --gate 'p99_us<20000'
sleep 6
$CTL rollout status
wait "$LG_PID"
say "the control plane's view"
$CTL stats | sed -n '1,40p'
$CTL history
say "the Redis Streams sink"
$CTL outputs || true
for k in $(redis-cli -p "$REDIS_PORT" --scan --pattern 'demo:*' | sort | head -3); do
  echo "XLEN $k = $(redis-cli -p "$REDIS_PORT" XLEN "$k")"
done
echo "the first entry of demo:demo/0/temp:"
redis-cli --no-raw -p "$REDIS_PORT" XRANGE demo:demo/0/temp - + COUNT 1 | cut -c1-100

say "stopping the dataplane (SIGTERM drains the rings and writes the final stats)"
kill -TERM "$DP_PID"; wait "$DP_PID" || true; DP_PID=
tail -1 "$DP_LOG"
python3 - "$STATS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
t = s["totals"]
print(f"rx {t['rx']} pkts = delivered {t['delivered']} + answered {t['answered']} + dropped {t['dropped']}"
      f"  (balanced: {t['balanced']})")
print("drops:", {k: v for k, v in t["drops"].items() if v} or "none")
o = t["out"]
print(f"out: generated {o['generated']} = sent {o['sent']} + dropped {o['dropped']}  (balanced: {o['balanced']})")
ev = t["events"]
print(f"deliveries {ev['deliveries']} (QoS 1 {ev['deliveries_qos1']}, retransmits {ev['qos1_retransmits']}), "
      f"publishes accepted {ev['publish_accepted']}, sessions expired {ev['session_expired']}")
print("MQTT-SN received by type:", t["mqttsn_rx"])
PY
echo "full stats: $STATS"
