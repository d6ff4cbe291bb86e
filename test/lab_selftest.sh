#!/usr/bin/env bash
# Self-test of deploy/lab.sh: bring a lab up, check both sides, check the wire, tear it down.
# Needs root (network namespaces). Exits non-zero on the first failure; 77 (meson: skipped)
# when not root.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB=$REPO/deploy/lab.sh
NAME=selftest
NS=fo-$NAME-cli
DP=fo${NAME}dp
CL=fo${NAME}cl

if [[ $(id -u) -ne 0 ]]; then
  echo "lab-selftest: needs root; skipping"
  exit 77
fi

# 198.18.K.0/24 leased the way the e2e harness leases it (test/e2e/harness.py SubnetLease): an
# flock on /run/lock/fanout-e2e-labs/K.lock held for as long as this script runs.
LEASE_DIR=/run/lock/fanout-e2e-labs
mkdir -p "$LEASE_DIR"
SUBNET=
for k in $(seq 16 255); do
  exec {lease_fd}>"$LEASE_DIR/$k.lock"
  if flock -n "$lease_fd"; then SUBNET=$k; break; fi
  exec {lease_fd}>&-
done
[[ -n $SUBNET ]] || { echo "lab-selftest: every lab subnet is leased (fuser -v $LEASE_DIR/*.lock)"; exit 1; }
P=198.18.$SUBNET
MAC_K=$(printf '%02x' "$SUBNET")
echo "lab-selftest: subnet $P.0/24"

fails=0
checks=0
ok()   { checks=$((checks + 1)); echo "ok   - $*"; }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL - $*"; }
check() { # check DESCRIPTION COMMAND...
  local d=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$d"; else fail "$d"; fi
}
indent() { sed 's/^/     | /'; }
has() { # has DESCRIPTION PATTERN TEXT
  if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else fail "$1"; echo "     wanted /$2/ in:"; printf '%s\n' "$3" | indent; fi
}
lacks() {
  if grep -Eq -- "$2" <<<"$3"; then fail "$1"; printf '%s\n' "$3" | indent; else ok "$1"; fi
}

cleanup() { "$LAB" down --name "$NAME" --kill >/dev/null 2>&1 || true; }
trap cleanup EXIT

# A stale half-lab (dataplane end only) must not stop `up`.
cleanup
ip link add "$DP" type veth peer name "$CL" 2>/dev/null

check "lab up (over a stale half-lab)" "$LAB" up --name "$NAME" --subnet "$SUBNET" --clients 3
check "lab status reports up" "$LAB" status --name "$NAME"
check "up twice in a row (stale lab removed first)" "$LAB" up --name "$NAME" --subnet "$SUBNET" --clients 3

# Client side, seen from inside the namespace.
check "namespace $NS exists" ip netns exec "$NS" true
addr=$(ip netns exec "$NS" ip -4 -o addr show dev "$CL" 2>&1)
has "client $P.2/24 is primary" "inet $P\.2/24 .*scope global $CL" "$addr"
has "client $P.3/24 secondary" "inet $P\.3/24 .*secondary" "$addr"
has "client $P.4/24 secondary" "inet $P\.4/24 .*secondary" "$addr"
lacks "no address for the appliance on the client side" "inet $P\.1/" "$addr"
link=$(ip netns exec "$NS" ip -d link show dev "$CL" 2>&1)
has "client link up, mtu 1500" "mtu 1500 .*state UP" "$link"
has "client link is veth" "veth" "$link"
route=$(ip netns exec "$NS" ip -4 route show 2>&1)
has "on-link route $P.0/24" "^$P\.0/24 dev $CL .*scope link" "$route"
lacks "no default route in the namespace" "^default" "$route"
has "route to the appliance goes on-link via $CL" "$P\.1 dev $CL src $P\.2" \
    "$(ip netns exec "$NS" ip -4 route get "$P.1" 2>&1)"
has "IPv6 off on the client end" "^1$" "$(ip netns exec "$NS" cat "/proc/sys/net/ipv6/conf/$CL/disable_ipv6" 2>&1)"
feat=$(ip netns exec "$NS" ethtool -k "$CL" 2>&1)
has "client tx checksum offload off" "^tx-checksumming: off" "$feat"
has "client rx checksum offload off" "^rx-checksumming: off" "$feat"
has "client gso off" "^generic-segmentation-offload: off" "$feat"
has "client gro off" "^generic-receive-offload: off" "$feat"

# Dataplane side, in the root namespace.
dpl=$(ip -d link show dev "$DP" 2>&1)
has "dataplane end $DP in root namespace, up" "state UP" "$dpl"
has "dataplane end mtu 1500" "mtu 1500" "$dpl"
has "dataplane end promiscuous" "PROMISC" "$dpl"
has "dataplane end peer lives in $NS" "link-netns $NS" "$dpl"
lacks "dataplane end has no kernel address" "inet" "$(ip -o addr show dev "$DP" 2>&1)"
feat=$(ethtool -k "$DP" 2>&1)
has "dataplane tx checksum offload off" "^tx-checksumming: off" "$feat"
has "dataplane rx checksum offload off" "^rx-checksumming: off" "$feat"
has "IPv6 off on the dataplane end" "^1$" "$(cat "/proc/sys/net/ipv6/conf/$DP/disable_ipv6" 2>&1)"
has "root kernel never forwards from $DP" "^0$" "$(cat "/proc/sys/net/ipv4/conf/$DP/forwarding")"
has "root kernel never answers ARP on $DP" "^8$" "$(cat "/proc/sys/net/ipv4/conf/$DP/arp_ignore")"
lacks "client end not in the root namespace" "." "$(ip -o link show dev "$CL" 2>/dev/null)"

# env output
env_out=$("$LAB" env --name "$NAME" 2>&1)
has "env: appliance address" "^LAB_APPLIANCE_IP=$P\.1$" "$env_out"
has "env: af_packet vdev" "^LAB_VDEV_AF_PACKET=\"net_af_packet0,iface=$DP\"$" "$env_out"

# The wire: a client datagram to the appliance shows up on the dataplane end (ARP first, since
# nothing answers it here), and with --static-neigh as UDP with a full, correct checksum.
capture() { # capture OUT FILTER COUNT -> tcpdump -vv output of one client datagram to the appliance
  local out=$1 pid i
  timeout 20 tcpdump -i "$DP" -n -vv -l -c "$3" "$2" >"$out" 2>"$out.err" &
  pid=$!
  # Send once tcpdump has its socket open (it says "listening on"), not after a guessed delay.
  for (( i = 0; i < 200; i++ )); do
    grep -q "listening on" "$out.err" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  ip netns exec "$NS" bash -c "echo fanout-lab-selftest > /dev/udp/$P.1/1883" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$out.err"
}
if command -v tcpdump >/dev/null; then
  tmp=$(mktemp)
  capture "$tmp" arp 1
  has "client ARPs for the appliance on the dataplane end" "who-has $P\.1 tell $P\.2" "$(cat "$tmp")"
  check "lab up --static-neigh" "$LAB" up --name "$NAME" --subnet "$SUBNET" --static-neigh
  has "permanent neighbour for the appliance" "$P\.1 lladdr 02:66:6f:$MAC_K:00:01 PERMANENT" \
      "$(ip netns exec "$NS" ip neigh show dev "$CL" 2>&1)"
  capture "$tmp" udp 1
  has "UDP datagram reaches the dataplane end with a correct checksum" \
      "$P\.2\.[0-9]+ > $P\.1\.1883: \[udp sum ok\]" "$(cat "$tmp")"
  rm -f "$tmp"
else
  echo "skip - tcpdump not installed: wire checks"
fi

# Tear down, twice (idempotent), and verify nothing is left.
check "lab down" "$LAB" down --name "$NAME"
check "lab down again (idempotent)" "$LAB" down --name "$NAME"
lacks "namespace removed" "^$NS( |$)" "$(ip netns list 2>&1)"
check "dataplane end removed" bash -c "! ip link show dev $DP"
check "status reports down (non-zero)" bash -c "! '$LAB' status --name $NAME"
check "state file removed" test ! -e "$REPO/.lab/$NAME.env"

echo "lab-selftest: $((checks - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
