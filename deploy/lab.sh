#!/usr/bin/env bash
# The Fanout lab: one network namespace of MQTT-SN clients wired by a veth pair to an interface in
# the root namespace that the DPDK dataplane attaches to.
#
#   deploy/lab.sh up     [--name NAME] [--subnet K] [--clients N] [--static-neigh]
#   deploy/lab.sh down   [--name NAME] [--kill]
#   deploy/lab.sh status [--name NAME]          # no --name: every lab found; exit 0 only if NAME is up
#   deploy/lab.sh env    [--name NAME] [--subnet K]   # print the lab's variables (shell syntax)
#   deploy/lab.sh exec   [--name NAME] -- CMD [ARG...] # run CMD inside the client namespace
#
# Names and addresses (NAME: 1-11 of [a-z0-9], default "lab"; K: 0-255, default 0):
#
#   client namespace      fo-NAME-cli
#   client interface      foNAMEcl  (in fo-NAME-cli)  198.18.K.2/24, MAC 02:66:6f:KK:00:02
#                         --clients N adds secondary addresses 198.18.K.3 .. 198.18.K.(N+1)
#                         route 198.18.K.0/24 on-link (the connected route); no default route
#   dataplane interface   foNAMEdp  (root namespace, NO IP address), MAC 02:66:6f:KK:00:01,
#                         promiscuous; the dataplane attaches with
#                           --vdev net_af_packet0,iface=foNAMEdp   or   --vdev net_af_xdp0,iface=foNAMEdp
#   appliance address     198.18.K.1 (lives in the dataplane only; KK = K in hex)
#
# Each lab is its own L2 segment and the dataplane side carries no kernel address, so labs with
# different NAMEs but the same K do not conflict; give distinct K only when one process must tell
# the labs' addresses apart (e.g. a relay between two labs). Everything stays in 198.18.0.0/15.
#
# The wire is kept quiet and honest: IPv6 off on both ends (no ND/MLD/RS), checksum and
# segmentation offloads off on both ends (tx off rx off tso off gso off gro off) so the dataplane
# never sees partial checksums and the client kernel really verifies the dataplane's checksums,
# MTU 1500. On the root side the kernel must never answer or route what the clients send to the
# appliance: forwarding=0 (silent drop, no ICMP), rp_filter=1, arp_ignore=8 (no ARP replies).
#
# --static-neigh installs a permanent ARP entry 198.18.K.1 -> dataplane MAC in the namespace, for
# tests that must not depend on the dataplane answering ARP (af_packet/af_xdp use the interface MAC).
#
# `up` first removes a stale lab of the same NAME. `down` is idempotent. The variables of a lab
# that is up are also written to <repo>/.lab/NAME.env (git-ignored) for tests to source.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=$REPO/.lab

log() { printf '[lab] %s\n' "$*"; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,9p' "$0"; }

cmd=${1:-}
[[ -n $cmd ]] || { usage; exit 2; }
shift

NAME=lab
NAME_GIVEN=0
SUBNET=0
SUBNET_SET=0
CLIENTS=1
STATIC_NEIGH=0
KILL=0
EXEC_ARGS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --name) NAME=${2:?--name needs a value}; NAME_GIVEN=1; shift 2 ;;
    --name=*) NAME=${1#*=}; NAME_GIVEN=1; shift ;;
    --subnet) SUBNET=${2:?--subnet needs a value}; SUBNET_SET=1; shift 2 ;;
    --subnet=*) SUBNET=${1#*=}; SUBNET_SET=1; shift ;;
    --clients) CLIENTS=${2:?--clients needs a value}; shift 2 ;;
    --clients=*) CLIENTS=${1#*=}; shift ;;
    --static-neigh) STATIC_NEIGH=1; shift ;;
    --kill) KILL=1; shift ;;
    --) shift; EXEC_ARGS=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[[ $NAME =~ ^[a-z0-9]{1,11}$ ]] || die "NAME must be 1-11 characters of [a-z0-9] (interface names are limited to 15): '$NAME'"
if ! [[ $SUBNET =~ ^[0-9]{1,3}$ ]] || (( SUBNET > 255 )); then
  die "--subnet must be 0..255: '$SUBNET'"
fi
if ! [[ $CLIENTS =~ ^[0-9]{1,3}$ ]] || (( CLIENTS < 1 || CLIENTS > 250 )); then
  die "--clients must be 1..250: '$CLIENTS'"
fi

NS=fo-$NAME-cli
DP_IF=fo${NAME}dp
CL_IF=fo${NAME}cl
STATE_FILE=$STATE_DIR/$NAME.env

set_addresses() {
  local kk
  PREFIX=198.18.$SUBNET
  APPLIANCE_IP=$PREFIX.1
  CLIENT_IP=$PREFIX.2
  kk=$(printf '%02x' "$SUBNET")
  DP_MAC=02:66:6f:$kk:00:01
  CL_MAC=02:66:6f:$kk:00:02
  CLIENT_IPS=""
  local i
  for (( i = 2; i < CLIENTS + 2; i++ )); do
    CLIENT_IPS+="${CLIENT_IPS:+ }$PREFIX.$i"
  done
}

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$NS"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
nsx() { ip netns exec "$NS" "$@"; }

# sysctl that tolerates a missing key (e.g. a kernel without IPv6)
sysctl_set() {
  local where=$1 key=$2 val=$3 path
  path=/proc/sys/${key//.//}
  if [[ $where == ns ]]; then
    nsx sh -c "[ -e '$path' ] && echo '$val' > '$path'" 2>/dev/null || true
  else
    if [[ -e $path ]]; then echo "$val" > "$path" || true; fi
  fi
}

offloads_off() {
  local where=$1 ifc=$2 out
  local -a pre=()
  [[ $where == ns ]] && pre=(ip netns exec "$NS")
  # ethtool exits non-zero when one feature is fixed; check the ones that matter afterwards.
  "${pre[@]}" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
  out=$("${pre[@]}" ethtool -k "$ifc" 2>/dev/null || true)
  if grep -Eq '^(tx-checksumming|rx-checksumming|generic-segmentation-offload|generic-receive-offload): on' <<<"$out"; then
    log "warning: some offloads still on for $ifc:"
    grep -E '^(tx-checksumming|rx-checksumming|generic-segmentation-offload|generic-receive-offload):' <<<"$out" >&2
  fi
}

lab_down() {
  local quiet=${1:-0} pids n
  if ns_exists; then
    pids=$(ip netns pids "$NS" 2>/dev/null | tr '\n' ' ' || true)
    if [[ -n ${pids// /} ]]; then
      if [[ $KILL -eq 1 ]]; then
        log "terminating processes still in $NS: $pids"
        # shellcheck disable=SC2086
        kill $pids 2>/dev/null || true
        sleep 0.5
      else
        log "warning: processes still running in $NS (pids $pids); use --kill to end them"
      fi
    fi
    ip netns del "$NS"
    [[ $quiet -eq 1 ]] || log "deleted namespace $NS"
  fi
  # Namespace teardown is asynchronous: wait for the pair to vanish, then remove it by hand
  # (also covers a dataplane side left behind when the namespace was already gone).
  for (( n = 0; n < 50; n++ )); do
    link_exists "$DP_IF" || break
    sleep 0.1
  done
  if link_exists "$DP_IF"; then
    ip link del "$DP_IF" 2>/dev/null || true
    [[ $quiet -eq 1 ]] || log "deleted link $DP_IF"
  fi
  if link_exists "$CL_IF"; then   # a half-built lab may have left the client end in root
    ip link del "$CL_IF" 2>/dev/null || true
    [[ $quiet -eq 1 ]] || log "deleted stray link $CL_IF"
  fi
  for (( n = 0; n < 50; n++ )); do
    link_exists "$DP_IF" || break
    sleep 0.1
  done
  link_exists "$DP_IF" && die "could not remove $DP_IF"
  rm -f "$STATE_FILE"
  return 0
}

write_env() {
  mkdir -p "$STATE_DIR"
  print_env > "$STATE_FILE.tmp"
  mv "$STATE_FILE.tmp" "$STATE_FILE"
}

print_env() {
  cat <<EOF
LAB_NAME=$NAME
LAB_NS=$NS
LAB_DP_IF=$DP_IF
LAB_CL_IF=$CL_IF
LAB_PREFIX=$PREFIX
LAB_PREFIX_LEN=24
LAB_APPLIANCE_IP=$APPLIANCE_IP
LAB_CLIENT_IP=$CLIENT_IP
LAB_CLIENT_IPS="$CLIENT_IPS"
LAB_DP_MAC=$DP_MAC
LAB_CL_MAC=$CL_MAC
LAB_VDEV_AF_PACKET="net_af_packet0,iface=$DP_IF"
LAB_VDEV_AF_XDP="net_af_xdp0,iface=$DP_IF"
EOF
}

lab_up() {
  need_root
  set_addresses
  if ns_exists || link_exists "$DP_IF" || link_exists "$CL_IF"; then
    log "removing stale lab '$NAME'"
    lab_down 1
  fi
  trap 'log "setup failed; cleaning up"; lab_down 1' ERR

  ip netns add "$NS"
  ip -n "$NS" link set lo up
  # Quiet the namespace before any interface comes up.
  sysctl_set ns net.ipv6.conf.all.disable_ipv6 1
  sysctl_set ns net.ipv6.conf.default.disable_ipv6 1

  ip link add "$DP_IF" address "$DP_MAC" mtu 1500 type veth \
     peer name "$CL_IF" address "$CL_MAC" mtu 1500 netns "$NS"

  # Root (dataplane) side: no address, no IPv6, never answers ARP, never routes client traffic.
  sysctl_set root "net.ipv6.conf.$DP_IF.disable_ipv6" 1
  sysctl_set root "net.ipv4.conf.$DP_IF.forwarding" 0
  sysctl_set root "net.ipv4.conf.$DP_IF.rp_filter" 1
  sysctl_set root "net.ipv4.conf.$DP_IF.arp_ignore" 8
  sysctl_set root "net.ipv4.conf.$DP_IF.accept_source_route" 0
  offloads_off root "$DP_IF"
  ip link set dev "$DP_IF" promisc on

  # Client side.
  sysctl_set ns "net.ipv6.conf.$CL_IF.disable_ipv6" 1
  offloads_off ns "$CL_IF"
  local ip
  for ip in $CLIENT_IPS; do
    ip -n "$NS" addr add "$ip/24" dev "$CL_IF"
  done

  ip link set dev "$DP_IF" up
  ip -n "$NS" link set dev "$CL_IF" up
  # The connected route 198.18.K.0/24 appears with the address; make sure it is there.
  ip -n "$NS" route replace "$PREFIX.0/24" dev "$CL_IF" scope link src "$CLIENT_IP"
  if [[ $STATIC_NEIGH -eq 1 ]]; then
    ip -n "$NS" neigh replace "$APPLIANCE_IP" lladdr "$DP_MAC" dev "$CL_IF" nud permanent
  fi

  local n
  for (( n = 0; n < 50; n++ )); do
    [[ $(cat "/sys/class/net/$DP_IF/operstate" 2>/dev/null) == up ]] && break
    sleep 0.1
  done
  trap - ERR
  if [[ $(cat "/sys/class/net/$DP_IF/operstate" 2>/dev/null) != up ]]; then
    lab_down 1
    die "$DP_IF did not come up"
  fi

  write_env
  local extra=""
  (( CLIENTS > 1 )) && extra=" (+$((CLIENTS - 1)) secondary: $PREFIX.3-$PREFIX.$((CLIENTS + 1)))"
  log "lab '$NAME' up: netns $NS, client $CL_IF $CLIENT_IP/24$extra mac $CL_MAC;" \
      "dataplane $DP_IF (root ns, no IP) mac $DP_MAC; appliance $APPLIANCE_IP;" \
      "--vdev net_af_packet0,iface=$DP_IF$([[ $STATIC_NEIGH -eq 1 ]] && echo '; static neigh')"
}

lab_status_one() {
  local ok=0
  if ns_exists; then
    log "namespace $NS: present"
    if nsx ip link show dev "$CL_IF" >/dev/null 2>&1; then
      log "  $CL_IF: $(nsx ip -br link show dev "$CL_IF" | tr -s ' ')"
      log "  addresses: $(nsx ip -4 -o addr show dev "$CL_IF" | awk '{print $4}' | tr '\n' ' ')"
      nsx ip -4 route show | sed 's/^/[lab]   route: /'
      nsx ip neigh show dev "$CL_IF" | sed 's/^/[lab]   neigh: /'
    else
      log "  $CL_IF: missing"; ok=1
    fi
    local pids
    pids=$(ip netns pids "$NS" 2>/dev/null | tr '\n' ' ' || true)
    [[ -z ${pids// /} ]] || log "  processes in namespace: $pids"
  else
    log "namespace $NS: absent"; ok=1
  fi
  if link_exists "$DP_IF"; then
    log "root $DP_IF: $(ip -br link show dev "$DP_IF" | tr -s ' ')$(ip -d link show dev "$DP_IF" | grep -q PROMISC && echo ' promisc')"
    local addrs
    addrs=$(ip -o addr show dev "$DP_IF" | awk '{print $4}' | tr '\n' ' ')
    [[ -z $addrs ]] || log "  warning: $DP_IF carries kernel addresses: $addrs"
  else
    log "root $DP_IF: absent"; ok=1
  fi
  [[ -f $STATE_FILE ]] && log "state file: $STATE_FILE"
  if [[ $ok -eq 0 ]] && nsx ip link show dev "$CL_IF" | grep -q 'state UP' \
       && ip link show dev "$DP_IF" | grep -q 'state UP'; then
    log "lab '$NAME': up"
    return 0
  fi
  log "lab '$NAME': down or incomplete"
  return 1
}

lab_status() {
  if [[ $NAME_GIVEN -eq 1 ]]; then
    lab_status_one
    return
  fi
  # No --name: every lab that has a namespace or a dataplane interface; exit 0 if all are up.
  local names n rc=0
  names=$( { ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^fo-\([a-z0-9]*\)-cli$/\1/p'
             ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed -n 's/^fo\([a-z0-9]*\)dp\(@.*\)\{0,1\}$/\1/p'
           } | sort -u)
  if [[ -z $names ]]; then
    log "no labs found"
    return 1
  fi
  for n in $names; do
    NAME=$n NS=fo-$n-cli DP_IF=fo${n}dp CL_IF=fo${n}cl STATE_FILE=$STATE_DIR/$n.env
    lab_status_one || rc=1
  done
  return $rc
}


case $cmd in
  up) lab_up ;;
  down) need_root; lab_down 0; log "lab '$NAME' down" ;;
  status) lab_status ;;
  env)
    if [[ -f $STATE_FILE && $SUBNET_SET -eq 0 ]]; then cat "$STATE_FILE"; else set_addresses; print_env; fi ;;
  exec)
    [[ ${#EXEC_ARGS[@]} -gt 0 ]] || die "exec needs -- CMD [ARG...]"
    ns_exists || die "lab '$NAME' is not up"
    exec ip netns exec "$NS" "${EXEC_ARGS[@]}" ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac
