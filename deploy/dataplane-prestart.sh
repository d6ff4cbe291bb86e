#!/usr/bin/env bash
# The ExecStartPre of fanout-dataplane@NAME.service: checks that the instance can start and
# writes the EAL arguments its ExecStart uses.
#
#   dataplane-prestart NAME CONFIG [OUT]
#
# 1. CONFIG passes the dataplane's own validator (fanout-dataplane-env, installed beside this
#    script), which also gives the lcore list (main lcore first), the PCI ports and the vdev ports;
# 2. every lcore is an online CPU (a warning when it is not isolated from the scheduler);
# 3. hugepages: a hugetlbfs is mounted and holds free pages (unless FANOUT_EAL_ARGS has --no-huge);
# 4. every PCI port is bound to a DPDK driver (vfio-pci; fanout-nic bind ADDR does it), every
#    vdev port is given to EAL in FANOUT_EAL_ARGS, and an AF_XDP or af_packet vdev's iface exists;
# 5. writes FANOUT_EAL_RUN="-l LCORES --main-lcore M --file-prefix fanout-NAME [-a PCI]...
#    [--no-pci] FANOUT_EAL_ARGS" to OUT (default $RUNTIME_DIRECTORY/eal.env; "-" = stdout).
# FANOUT_EAL_ARGS and FANOUT_MAIN_LCORE come from @sysconfdir@/fanout/NAME.env. Every refusal
# names the fix; the exit status is 1 then, 2 on a usage error.
set -euo pipefail

die() { printf 'fanout-dataplane@%s: %s\n' "${NAME:-?}" "$*" >&2; exit 1; }
warn() { printf 'fanout-dataplane@%s: warning: %s\n' "$NAME" "$*" >&2; }

if [[ $# -lt 2 || $# -gt 3 ]]; then
  sed -n '2,16p' "$0" >&2
  exit 2
fi
NAME=$1 CONFIG=$2
OUT=${3:-${RUNTIME_DIRECTORY:+${RUNTIME_DIRECTORY%%:*}/eal.env}}
[[ -n $OUT ]] || die "no output file: give OUT, or run under systemd (RuntimeDirectory=)"
[[ $NAME =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || die "instance name '$NAME': use 1-40 of [A-Za-z0-9_.-]"
SYSFS=${FANOUT_SYSFS:-/sys}

read -ra EXTRA <<<"${FANOUT_EAL_ARGS:-}"

# 1. the config, through the dataplane's validator
tool=$(dirname "$(readlink -f "$0")")/fanout-dataplane-env
[[ -x $tool ]] || die "$tool is missing; reinstall fanout (meson install)"
main_arg=()
[[ -z ${FANOUT_MAIN_LCORE:-} ]] || main_arg=(--main-lcore "$FANOUT_MAIN_LCORE")
env_out=$("$tool" "${main_arg[@]}" "$CONFIG") || die "$CONFIG is not a valid config (the line above says why)"
FANOUT_MAIN_LCORE='' FANOUT_LCORES='' FANOUT_PCI='' FANOUT_VDEVS=''
eval "$env_out"   # four NAME="value" lines of ids, PCI addresses and ethdev names (checked by the tool)

# 2. lcores
IFS=, read -ra lcores <<<"$FANOUT_LCORES"
isolated=$(cat "$SYSFS/devices/system/cpu/isolated" 2>/dev/null || true)
in_list() {  # in_list N "0-3,7" -> is CPU N in the kernel's cpu list
  local n=$1 part lo hi
  local -a parts
  IFS=, read -ra parts <<<"$2"
  for part in "${parts[@]}"; do
    lo=${part%-*} hi=${part#*-}
    [[ -n $lo ]] && (( n >= lo && n <= hi )) && return 0
  done
  return 1
}
for l in "${lcores[@]}"; do
  cpu=$SYSFS/devices/system/cpu/cpu$l
  [[ -d $cpu ]] || die "lcore $l: this machine has no CPU $l; change lcores in $CONFIG (or FANOUT_MAIN_LCORE)"
  if [[ -r $cpu/online && $(cat "$cpu/online") != 1 ]]; then
    die "lcore $l: CPU $l is offline; echo 1 > $cpu/online, or change lcores in $CONFIG"
  fi
  if [[ $l != "$FANOUT_MAIN_LCORE" ]] && ! in_list "$l" "$isolated"; then
    warn "lcore $l: CPU $l is not isolated (isolcpus=/nohz_full=; docs/deploy.md); other tasks may share it"
  fi
done

# 3. hugepages
if [[ " ${EXTRA[*]} " != *" --no-huge "* ]]; then
  mounts=$(awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts)
  [[ -n $mounts ]] || die "no hugetlbfs is mounted; systemctl start dev-hugepages.mount fanout-hugepages.service"
  free=0
  for d in "$SYSFS"/kernel/mm/hugepages/hugepages-*; do
    [[ -r $d/free_hugepages ]] || continue
    free=$(( free + $(cat "$d/free_hugepages") ))
  done
  (( free > 0 )) || die "no free hugepages (dpdk-hugepages.py --show); reserve some: FANOUT_HUGEPAGES in @sysconfdir@/fanout/hugepages.env, then systemctl restart fanout-hugepages.service"
fi

# 4. ports
dpdk_drivers=" vfio-pci uio_pci_generic igb_uio "
bifurcated=" mlx5_core mlx4_core "   # NVIDIA/Mellanox ports: DPDK runs beside the kernel driver
eal=(-l "$FANOUT_LCORES" --main-lcore "$FANOUT_MAIN_LCORE" --file-prefix "fanout-$NAME")
for pci in $FANOUT_PCI; do
  dev=$SYSFS/bus/pci/devices/$pci
  [[ -e $dev ]] || die "port $pci: no such PCI device (dpdk-devbind.py --status); fix ports[].device in $CONFIG"
  drv=$(basename "$(readlink "$dev/driver" 2>/dev/null || echo none)")
  if [[ $dpdk_drivers != *" $drv "* && $bifurcated != *" $drv "* ]]; then
    die "port $pci is bound to '$drv', not to a DPDK driver; bind it: fanout-nic bind $pci (docs/deploy.md)"
  fi
  eal+=(-a "$pci")
done
for v in $FANOUT_VDEVS; do
  given=''
  for ((i = 0; i < ${#EXTRA[@]}; i++)); do
    a=${EXTRA[i]} arg=''
    if [[ $a == --vdev && $((i + 1)) -lt ${#EXTRA[@]} ]]; then arg=${EXTRA[i + 1]}; fi
    if [[ $a == --vdev=* ]]; then arg=${a#--vdev=}; fi
    [[ ${arg%%,*} == "$v" ]] && given=$arg
  done
  [[ -n $given ]] || die "port $v is not a PCI address, so EAL needs it as a vdev; add to @sysconfdir@/fanout/$NAME.env: FANOUT_EAL_ARGS=\"--vdev $v,iface=IFACE\" (or the PCI address as device)"
  if [[ $given =~ (^|,)iface=([^,]+) ]]; then
    ifc=${BASH_REMATCH[2]}
    [[ -e $SYSFS/class/net/$ifc ]] || die "port $v: interface '$ifc' does not exist (ip link)"
  fi
done
if [[ -z $FANOUT_PCI ]]; then
  has_allow=0
  for a in "${EXTRA[@]}"; do [[ $a == -a || $a == --allow* || $a == -b || $a == --block* ]] && has_allow=1; done
  # Without an allow-list EAL would probe every PCI device, the host's own NIC included.
  (( has_allow )) || eal+=(--no-pci)
fi
eal+=("${EXTRA[@]}")

# 5. the arguments for ExecStart (systemd splits the unquoted $FANOUT_EAL_RUN at whitespace)
for a in "${eal[@]}"; do
  [[ $a != *[[:space:]\"\'\\\$]* ]] || die "EAL argument '$a' has a space, quote, backslash or \$; FANOUT_EAL_ARGS takes plain words"
done
line="FANOUT_EAL_RUN=\"${eal[*]}\""
if [[ $OUT == - ]]; then
  printf '%s\n' "$line"
else
  printf '%s\n' "$line" >"$OUT.tmp"
  mv "$OUT.tmp" "$OUT"
fi
printf 'fanout-dataplane@%s: EAL %s\n' "$NAME" "${eal[*]}"
