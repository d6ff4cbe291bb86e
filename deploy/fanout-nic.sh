#!/usr/bin/env bash
# Give a NIC port to DPDK (vfio-pci) and take it back, persistently across reboots.
#
#   fanout-nic status [DEV]                        drivers, overrides, IOMMU, vfio-pci
#   fanout-nic bind [--dry-run] [--driver DRV] DEV  DEV: a PCI address (0000:03:00.0) or an interface
#   fanout-nic unbind [--dry-run] [--driver DRV] DEV
#
# bind refuses an interface that carries a default route, or that the address this session is
# logged in over (SSH_CONNECTION) belongs to or is routed through: the machine would drop off the
# network. It checks the IOMMU (/sys/kernel/iommu_groups) and vfio-pci, warns about the port's
# IOMMU group peers, records the kernel driver, binds with driverctl (a persistent override) or,
# without driverctl, with dpdk-devbind.py (until the next reboot), and prints the rollback command.
# unbind removes the override or binds the recorded kernel driver again (--driver overrides).
# --dry-run makes every check and prints the commands instead of running them.
# Exit status: 0 done (or would be done), 1 refused or failed, 2 usage.
set -euo pipefail

STATE_DIR=${FANOUT_NIC_STATE:-/var/lib/fanout/nic}
SYSFS=${FANOUT_SYSFS:-/sys}
DPDK_DRIVERS=" vfio-pci uio_pci_generic igb_uio "

log() { printf 'fanout-nic: %s\n' "$*"; }
warn() { printf 'fanout-nic: warning: %s\n' "$*" >&2; }
refuse() { printf 'fanout-nic: REFUSED: %s\n' "$*" >&2; exit 1; }
die() { printf 'fanout-nic: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,16p' "$0" >&2; exit 2; }

cmd=${1:-}
[[ -n $cmd ]] || usage
shift
DRY=0 DRIVER='' DEV=''
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY=1; shift ;;
    --driver) DRIVER=${2:?--driver needs a driver name}; shift 2 ;;
    --driver=*) DRIVER=${1#*=}; shift ;;
    -h|--help) usage ;;
    -*) printf 'fanout-nic: unknown option %s\n' "$1" >&2; usage ;;
    *) [[ -z $DEV ]] || usage; DEV=$1; shift ;;
  esac
done

run() {  # a command that changes the machine: printed, and run unless --dry-run
  if (( DRY )); then log "would run: $*"; else log "running: $*"; "$@"; fi
}

is_pci() { [[ $1 =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]]; }

# DEV -> PCI (address, or empty when the interface is not a PCI function) and IFACE (when the
# kernel has a netdev for it).
resolve() {
  PCI='' IFACE=''
  if is_pci "$DEV"; then
    PCI=${DEV,,}
    [[ -e $SYSFS/bus/pci/devices/$PCI ]] || die "$PCI: no such PCI device (dpdk-devbind.py --status)"
    local n
    for n in "$SYSFS/bus/pci/devices/$PCI"/net/*; do
      [[ -e $n ]] && IFACE=$(basename "$n") && break
    done
  elif [[ -e $SYSFS/class/net/$DEV ]]; then
    IFACE=$DEV
    local d
    d=$(readlink -f "$SYSFS/class/net/$DEV/device" 2>/dev/null || true)
    if [[ -n $d && $(readlink -f "$d/subsystem" 2>/dev/null) == */bus/pci ]]; then PCI=$(basename "$d"); fi
  else
    die "$DEV is neither a PCI address (DDDD:BB:DD.F) nor an interface (ip link)"
  fi
}

driver_of() { basename "$(readlink "$SYSFS/bus/pci/devices/$1/driver" 2>/dev/null || echo none)"; }

# Refusals that keep the operator on the machine: run before anything else is looked at.
check_not_in_use() {
  local ifc=$1 r dev addr
  for r in "ip -4 route show default" "ip -6 route show default"; do
    while read -r dev; do
      [[ $dev == "$ifc" ]] && refuse "$ifc carries a default route ($r: $($r | head -n1 | sed "s/ *$//")); binding it would take this machine off the network. Move the default route to another interface first."
    done < <($r 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1) }')
  done
  if [[ -n ${SSH_CONNECTION:-} ]]; then
    local client server
    read -r client _ server _ <<<"$SSH_CONNECTION"
    for addr in $(ip -o addr show dev "$ifc" 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4 }'); do
      [[ $addr == "$server" ]] && refuse "you are logged in over $server, an address of $ifc (SSH_CONNECTION); binding it would cut this session. Log in over another interface."
    done
    dev=$(ip route get "$client" 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }' || true)
    [[ $dev == "$ifc" ]] && refuse "your SSH client $client is reached through $ifc (ip route get $client); binding it would cut this session. Log in over another interface."
  fi
  return 0
}

check_iommu() {
  local drv=$1
  [[ $drv == vfio-pci ]] || return 0
  if [[ -z $(ls -A "$SYSFS/kernel/iommu_groups" 2>/dev/null) ]]; then
    if [[ $(cat "$SYSFS/module/vfio/parameters/enable_unsafe_noiommu_mode" 2>/dev/null) == Y ]]; then
      warn "no IOMMU; vfio runs in unsafe no-IOMMU mode (no DMA isolation)"
    else
      refuse "no IOMMU groups in $SYSFS/kernel/iommu_groups: enable VT-d/AMD-Vi in the BIOS and boot with intel_iommu=on iommu=pt (Intel) or amd_iommu=on iommu=pt (AMD); see docs/deploy.md"
    fi
  fi
  if [[ ! -d $SYSFS/bus/pci/drivers/vfio-pci ]]; then
    if (( DRY )); then
      modinfo vfio-pci >/dev/null 2>&1 || refuse "the kernel has no vfio-pci module (modinfo vfio-pci)"
      log "would run: modprobe vfio-pci"
    else
      modprobe vfio-pci || refuse "modprobe vfio-pci failed"
    fi
  fi
}

group_peers() {
  local pci=$1 g p
  g=$SYSFS/bus/pci/devices/$pci/iommu_group/devices
  [[ -d $g ]] || return 0
  for p in "$g"/*; do
    p=$(basename "$p")
    [[ $p == "$pci" ]] && continue
    warn "$p shares IOMMU group $(basename "$(readlink "$SYSFS/bus/pci/devices/$pci/iommu_group")") with $pci and is bound to '$(driver_of "$p")'; vfio-pci needs every device of the group unbound from kernel drivers (bridges excepted)"
  done
}

rollback_hint() {
  local pci=$1 kdrv=$2
  log "rollback: fanout-nic unbind $pci"
  if command -v driverctl >/dev/null; then
    log "      or: driverctl unset-override $pci"
  else
    log "      or: dpdk-devbind.py --bind=$kdrv $pci"
  fi
}

do_bind() {
  local drv=${DRIVER:-vfio-pci} kdrv
  resolve
  [[ -z $IFACE ]] || check_not_in_use "$IFACE"
  [[ -n $PCI ]] || refuse "$DEV is not a PCI function (a virtual or platform device: $(readlink -f "$SYSFS/class/net/$DEV/device" 2>/dev/null || echo none)); DPDK can use it only through AF_XDP or af_packet (docs/deploy.md)"
  kdrv=$(driver_of "$PCI")
  if [[ $kdrv == "$drv" ]]; then
    log "$PCI is already bound to $drv"
    rollback_hint "$PCI" "$(cat "$STATE_DIR/$PCI.driver" 2>/dev/null || echo '<kernel driver>')"
    return 0
  fi
  [[ $DPDK_DRIVERS == *" $drv "* ]] || die "--driver $drv is not a DPDK driver (vfio-pci, uio_pci_generic, igb_uio)"
  check_iommu "$drv"
  group_peers "$PCI"
  [[ -z $IFACE ]] || log "$PCI ($IFACE) leaves the kernel driver $kdrv for $drv"
  if [[ -n $IFACE ]] && ip -o addr show dev "$IFACE" 2>/dev/null | grep -q inet; then
    warn "$IFACE has addresses ($(ip -o addr show dev "$IFACE" | awk '{print $4}' | tr '\n' ' ')); they go away with the interface"
  fi
  if [[ $kdrv != none ]]; then
    run mkdir -p "$STATE_DIR"
    if (( DRY )); then log "would record $kdrv in $STATE_DIR/$PCI.driver"; else echo "$kdrv" >"$STATE_DIR/$PCI.driver"; fi
  fi
  if command -v driverctl >/dev/null; then
    run driverctl set-override "$PCI" "$drv"
  else
    warn "driverctl is not installed: the binding lasts until the next reboot (apt-get install driverctl makes it persistent)"
    [[ -n $IFACE ]] && run ip link set dev "$IFACE" down
    run dpdk-devbind.py --bind="$drv" "$PCI"
  fi
  if (( ! DRY )); then
    [[ $(driver_of "$PCI") == "$drv" ]] || die "$PCI is bound to '$(driver_of "$PCI")' after binding; see dmesg"
    log "$PCI bound to $drv"
  fi
  rollback_hint "$PCI" "$kdrv"
}

do_unbind() {
  local cur kdrv
  resolve
  [[ -n $PCI ]] || die "$DEV is not a PCI function"
  cur=$(driver_of "$PCI")
  kdrv=${DRIVER:-$(cat "$STATE_DIR/$PCI.driver" 2>/dev/null || true)}
  if command -v driverctl >/dev/null && driverctl list-overrides 2>/dev/null | grep -q "^$PCI "; then
    run driverctl unset-override "$PCI"
    [[ -z $kdrv || $kdrv == none ]] || [[ $(driver_of "$PCI") == "$kdrv" ]] || run dpdk-devbind.py --bind="$kdrv" "$PCI"
  else
    [[ -n $kdrv ]] || die "no kernel driver recorded for $PCI; name it: fanout-nic unbind --driver DRIVER $PCI (lspci -k -s $PCI lists the candidates)"
    [[ $cur != "$kdrv" ]] || { log "$PCI is already bound to $kdrv"; return 0; }
    run dpdk-devbind.py --bind="$kdrv" "$PCI"
  fi
  if (( ! DRY )); then
    rm -f "$STATE_DIR/$PCI.driver"
    log "$PCI bound to $(driver_of "$PCI")"
  fi
}

do_status() {
  if [[ -n $(ls -A "$SYSFS/kernel/iommu_groups" 2>/dev/null) ]]; then
    log "IOMMU: on ($(find "$SYSFS/kernel/iommu_groups" -mindepth 1 -maxdepth 1 | wc -l) groups)"
  else
    log "IOMMU: off (no groups; vfio-pci needs intel_iommu=on or amd_iommu=on)"
  fi
  if [[ -d $SYSFS/bus/pci/drivers/vfio-pci ]]; then log "vfio-pci: loaded"; else log "vfio-pci: not loaded"; fi
  if command -v driverctl >/dev/null; then
    log "driverctl overrides (persistent):"
    driverctl list-overrides 2>/dev/null | sed 's/^/  /' || true
  else
    log "driverctl: not installed (bindings do not survive a reboot)"
  fi
  if [[ -n $DEV ]]; then
    resolve
    log "$DEV: pci ${PCI:-none} iface ${IFACE:-none} driver $( [[ -n $PCI ]] && driver_of "$PCI" || echo -)"
  else
    dpdk-devbind.py --status-dev net
  fi
}

case $cmd in
  bind) [[ -n $DEV ]] || usage; do_bind ;;
  unbind) [[ -n $DEV ]] || usage; do_unbind ;;
  status) do_status ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
