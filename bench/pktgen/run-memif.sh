#!/bin/bash
# Run one Fanout pktgen profile on this machine: fanout-dataplane with two net_memif server ports and
# Pktgen-DPDK as the memif client, no NIC and no hugepages needed.
#
#   PKTGEN=/path/to/pktgen bench/pktgen/run-memif.sh PROFILE WORKLOAD_DIR [RESULTS_FILE]
#
# PROFILE: replay | sweep | latency (bench/pktgen/PROFILE.lua). DP: the dataplane binary (default
# build/dataplane/fanout-dataplane). WORKLOAD_DIR: the output of
#   bench/workload.py --out DIR --ports net_memif0,net_memif1 --mac0 02:fe:00:00:00:00 --mac1 02:fe:00:00:00:01 ...
# (preamble.pcap, steady.pcap, dataplane.yaml). Profile parameters (FO_RATE, FO_PPS, FO_SECONDS,
# FO_SWEEP_PPS, FO_SWEEP_PCT, FO_LAT_MODE, ...) pass through the environment; see the .lua files.
# With PEER=testpmd the memif server is dpdk-testpmd reflecting frames (macswap, loop topology)
# instead of the dataplane: for latency.lua with FO_LAT_MODE=reflector (PG_ONE_PORT=1: pktgen takes
# only the reflector's second port, with one port lcore).
#
# Pktgen itself is not part of this repository: build it yourself and point PKTGEN at the binary
# (bench/pktgen/README.md). This script only runs it.
#
# CPUs (2-core machine): the dataplane's packet lcore 1 gets CPU 1 alone; its main lcore, pktgen's
# main lcore and pktgen's two port lcores all share CPU 0 (--lcores 0@0,1@0,2@0). Set
# PG_LCORES / PG_MAP / DP_LCORES to change that on a bigger machine.
# Everything runs under flock $FO_LOCK (default /tmp/fanout-dpdk.lock) so DPDK runs never overlap.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ "${FO_LOCKED:-}" != 1 ]; then
	exec env FO_LOCKED=1 flock "${FO_LOCK:-/tmp/fanout-dpdk.lock}" "$0" "$@"
fi

profile=${1:?usage: PKTGEN=... $0 replay|sweep|latency WORKLOAD_DIR [RESULTS_FILE]}
wl=$(cd "${2:?workload dir (bench/workload.py --out DIR --ports net_memif0,net_memif1 ...)}" && pwd)
results=${3:-/tmp/fanout-pktgen-$profile.txt}
PKTGEN=${PKTGEN:?set PKTGEN to the pktgen binary}
PEER=${PEER:-dataplane}
DP=${DP:-$repo/build/dataplane/fanout-dataplane}
TESTPMD=${TESTPMD:-dpdk-testpmd}
DP_LCORES=${DP_LCORES:-0,1}
PG_LCORES=${PG_LCORES:-0@0,1@0,2@0}
PG_MAP=${PG_MAP:--m 1.0 -m 2.1}
TIMEOUT=${TIMEOUT:-240}
run=${FO_RUN_DIR:-/tmp/fanout-pktgen.$$}
mkdir -p "$run"
sock0=$run/memif0.sock sock1=$run/memif1.sock ctl=$run/ctl.sock
dp_prefix=fo-pg-dp-$$ pg_prefix=fo-pg-gen-$$
mac0=02:fe:00:00:00:00 mac1=02:fe:00:00:00:01

[ -f "$here/$profile.lua" ] || { echo "no profile $here/$profile.lua" >&2; exit 2; }
for f in preamble.pcap steady.pcap dataplane.yaml; do
	[ -f "$wl/$f" ] || { echo "$wl/$f missing (bench/workload.py --out $wl ...)" >&2; exit 2; }
done
if [ "$PEER" = dataplane ] && ! grep -q 'device: net_memif0' "$wl/dataplane.yaml"; then
	echo "$wl/dataplane.yaml does not use net_memif0/net_memif1: generate it with" >&2
	echo "  bench/workload.py --out $wl --ports net_memif0,net_memif1 --mac0 $mac0 --mac1 $mac1 ..." >&2
	exit 2
fi

peer_pid=''
pg_script=''
cleanup() {
	if [ -n "$pg_script" ] && kill -0 "$pg_script" 2>/dev/null; then
		kill -TERM "$pg_script" 2>/dev/null || true
		wait "$pg_script" 2>/dev/null || true
	fi
	if [ -n "$peer_pid" ] && kill -0 "$peer_pid" 2>/dev/null; then
		kill -INT "$peer_pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$peer_pid" 2>/dev/null || true
	fi
	rm -rf "/var/run/dpdk/$dp_prefix" "/var/run/dpdk/$pg_prefix"
	rm -f "$sock0" "$sock1" "$ctl"
}
trap cleanup EXIT

memif_srv="--vdev net_memif0,role=server,socket=$sock0,mac=$mac0 --vdev net_memif1,role=server,socket=$sock1,mac=$mac1"
if [ "$PEER" = testpmd ]; then
	# shellcheck disable=SC2086
	"$TESTPMD" -l "$DP_LCORES" --no-pci --no-huge -m 512 --file-prefix "$dp_prefix" $memif_srv -- \
		--forward-mode=macswap --port-topology=loop --auto-start --stats-period 60 --total-num-mbufs=32768 \
		>"$run/peer.log" 2>&1 </dev/null &
	peer_pid=$!
	# memif sockets are abstract (socket-abstract=yes by default): no file to wait for
	for _ in $(seq 100); do grep -q 'packet forwarding - ports=' "$run/peer.log" && break; sleep 0.1; done
	grep -q 'packet forwarding - ports=' "$run/peer.log" || { echo "testpmd did not come up:" >&2; cat "$run/peer.log" >&2; exit 1; }
	ctl_env=
else
	# shellcheck disable=SC2086
	"$DP" -l "$DP_LCORES" --no-pci --no-huge -m 1024 --file-prefix "$dp_prefix" $memif_srv -- \
		--config "$wl/dataplane.yaml" --control "$ctl" --stats "$run/dataplane-stats.json" \
		>"$run/peer.log" 2>&1 &
	peer_pid=$!
	for _ in $(seq 100); do [ -S "$ctl" ] && break; sleep 0.1; done
	[ -S "$ctl" ] || { echo "dataplane did not come up:" >&2; cat "$run/peer.log" >&2; exit 1; }
	ctl_env="FO_CTL=$ctl"
fi

echo "# $(date -u +%FT%TZ) $profile, peer $PEER ($([ "$PEER" = testpmd ] && echo "$TESTPMD" || echo "$DP")), workload $wl, $(nproc) CPUs, $(uname -r)" >>"$results"
# Pktgen insists on a terminal: script(1) gives it one; its screen output goes to $run/pktgen.typescript.
# The memif client (pktgen) sizes the rings: MEMIF_RSIZE is log2 of the slots per ring, default 14
# (16384, memif's maximum; its own default is 10 = 1024). Pktgen's port lcores take turns on one CPU, a
# few ms each: a ring must hold what arrives while its reader is off the CPU, or the dataplane's tx
# is refused (out_drop_tx_burst_fail). MEMIF_RSIZE= (empty) leaves memif's default.
MEMIF_RSIZE=${MEMIF_RSIZE-14}
memif_opt=${MEMIF_RSIZE:+,rsize=$MEMIF_RSIZE}
if [ "${PG_ONE_PORT:-0}" = 1 ]; then
	# reflector latency with one pktgen port lcore (no second busy poller on its CPU): pktgen's
	# only port, 0, is the peer's memif1
	pg_cmd="$PKTGEN --lcores ${PG_LCORES_ONE:-0@0,1@0} --no-pci --no-huge -m 2048 --file-prefix $pg_prefix \
--vdev net_memif1,role=client,socket=$sock1$memif_opt -- -P -m 1.0 -f $here/$profile.lua"
	export FO_LAT_PORT=0 FO_SUB_PORT=0 FO_PUB_PORT=0
else
	pg_cmd="$PKTGEN --lcores $PG_LCORES --no-pci --no-huge -m 2048 --file-prefix $pg_prefix \
--vdev net_memif0,role=client,socket=$sock0$memif_opt --vdev net_memif1,role=client,socket=$sock1$memif_opt \
-- -P $PG_MAP -s 0:$wl/preamble.pcap -s 1:$wl/steady.pcap -f $here/$profile.lua"
fi
echo "# pktgen: $pg_cmd" >>"$results"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg); busy processes: $(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 > 20 {printf "%s(%s%%) ", $2, $1}')" >>"$results"
# shellcheck disable=SC2086
env $ctl_env FO_PREAMBLE="$wl/preamble.pcap" FO_STEADY="$wl/steady.pcap" FO_RESULTS="$results" \
	timeout "$TIMEOUT" script -qfec "$pg_cmd" "$run/pktgen.typescript" >/dev/null 2>&1 </dev/null &
pg_script=$!
# Pktgen's stats/display timer is a thread of its own that spins (rte_pause) on the main lcore's CPU,
# here the CPU its port lcores use: nice it to 19 so they get that CPU (its 1 s stats tick only needs
# a sliver of it). PG_NICE_TIMER=0 leaves it alone.
if [ "${PG_NICE_TIMER:-1}" = 1 ]; then
	for _ in $(seq 100); do
		pg_pid=$(pgrep -f -- "--file-prefix $pg_prefix" | while read -r p; do
			[ "$(cat /proc/"$p"/comm 2>/dev/null)" = pktgen ] && echo "$p"; done | head -n1 || true)
		if [ -n "$pg_pid" ]; then
			timer=$(for t in /proc/"$pg_pid"/task/*; do
				[ "$(cat "$t"/comm)" = pktgen ] && [ "${t##*/}" != "$pg_pid" ] && echo "${t##*/}"; done || true)
			if [ -n "$timer" ]; then for t in $timer; do renice -n 19 -p "$t" >/dev/null; done; echo "# pktgen timer thread $timer reniced to 19" >>"$results"; break; fi
		fi
		sleep 0.1
	done
fi
rc=0
wait "$pg_script" || rc=$?
pg_script=
[ $rc -eq 0 ] || echo "# pktgen exited with $rc (see $run/pktgen.typescript)" | tee -a "$results" >&2

if [ "$PEER" = dataplane ]; then
	redis-cli -s "$ctl" STATS >"$run/dataplane-stats-live.json" 2>/dev/null || true
fi
kill -INT "$peer_pid" 2>/dev/null || true
wait "$peer_pid" 2>/dev/null || true
peer_pid=
tail -n 1 "$run/peer.log" | sed 's/^/# peer: /' >>"$results"
echo "results: $results; logs: $run" >&2
