#!/usr/bin/env bash
# deploy/fanout-nic.sh refuses what would take the machine or the operator's session off the
# network, without binding anything (every bind here is --dry-run):
#   1. this machine's own default-route interface;
#   2. in a network namespace of the test's own (a veth pair, 198.19.250.0/24): an interface
#      holding the address SSH_CONNECTION says the session is logged in over, one the SSH client is
#      routed through, one carrying the namespace's default route, and a veth, which is no PCI
#      function at all;
#   3. `status` reports the IOMMU, vfio-pci and driverctl state;
#   4. on a fake sysfs (FANOUT_SYSFS) with a PCI port 0000:03:00.0 (eth9, ixgbe) sharing its IOMMU group:
#      bind --dry-run names the peer, the commands it would run and the rollback; without IOMMU groups it
#      refuses; unbind --dry-run needs the kernel driver, recorded or given.
set -euo pipefail
NIC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/deploy/fanout-nic.sh
fail() { printf 'deploy-nic: FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'deploy-nic: ok: %s\n' "$*"; }
[[ $(id -u) -eq 0 ]] || { echo "deploy-nic: SKIP: needs root for network namespaces (uid $(id -u))"; exit 77; }

# expect_refused WHY-PATTERN CMD... : CMD exits 1 with "REFUSED: ...WHY-PATTERN..." and binds nothing
expect_refused() {
  local pat=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  [[ $rc -eq 1 ]] || fail "$* exited $rc, not 1: $out"
  [[ $out == *"REFUSED: "*$pat* ]] || fail "$* did not refuse for '$pat': $out"
  [[ $out != *"would run"* && $out != *running:* ]] || fail "$* went on to bind: $out"
  ok "${out#fanout-nic: }"
}

ifc=$(ip -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
ifc=${ifc:-$(ip -6 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')}
if [[ -n $ifc ]]; then
  expect_refused "carries a default route" env -u SSH_CONNECTION bash "$NIC" bind --dry-run "$ifc"
else
  echo "deploy-nic: this machine has no default route; only the namespace cases run"
fi

NS=fo-nic-$$
cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link add fonic0 type veth peer name fonic1
ip -n "$NS" addr add 198.19.250.1/24 dev fonic0
ip -n "$NS" link set fonic0 up
ip -n "$NS" link set fonic1 up
nsx() { ip netns exec "$NS" "$@"; }
expect_refused "logged in over 198.19.250.1" \
  nsx env SSH_CONNECTION="198.19.250.9 40000 198.19.250.1 22" bash "$NIC" bind --dry-run fonic0
ip -n "$NS" route add 198.19.251.0/24 via 198.19.250.2 dev fonic0
expect_refused "SSH client 198.19.251.9 is reached through fonic0" \
  nsx env SSH_CONNECTION="198.19.251.9 40000 198.19.249.1 22" bash "$NIC" bind --dry-run fonic0
expect_refused "not a PCI function" nsx env -u SSH_CONNECTION bash "$NIC" bind --dry-run fonic0
ip -n "$NS" route add default via 198.19.250.254 dev fonic0
expect_refused "carries a default route" nsx env -u SSH_CONNECTION bash "$NIC" bind --dry-run fonic0
expect_refused "carries a default route" nsx env -u SSH_CONNECTION bash "$NIC" bind --dry-run --driver uio_pci_generic fonic0

out=$(bash "$NIC" status "${ifc:-lo}") || fail "status exited $?: $out"
grep -q '^fanout-nic: IOMMU: ' <<<"$out" || fail "status does not report the IOMMU: $out"
ok "status: $(tr '\n' ';' <<<"$out")"

fs=$(mktemp -d /tmp/fanout-nic-sysfs.XXXXXX)
trap 'cleanup; rm -rf "$fs"' EXIT
dev=$fs/devices/pci0000:00/0000:03:00.0
mkdir -p "$dev/net/eth9" "$fs/devices/pci0000:00/0000:03:00.1" "$fs/bus/pci/devices" "$fs/bus/pci/drivers/ixgbe" \
  "$fs/bus/pci/drivers/vfio-pci" "$fs/class/net" "$fs/kernel/iommu_groups/5/devices"
ln -s ../../../devices/pci0000:00/0000:03:00.0 "$fs/bus/pci/devices/0000:03:00.0"
ln -s ../../../devices/pci0000:00/0000:03:00.1 "$fs/bus/pci/devices/0000:03:00.1"
ln -s ../../../bus/pci "$dev/subsystem"
ln -s ../../../bus/pci/drivers/ixgbe "$dev/driver"
ln -s ../../../bus/pci/drivers/ixgbe "$fs/devices/pci0000:00/0000:03:00.1/driver"
ln -s ../../devices/pci0000:00/0000:03:00.0/net/eth9 "$fs/class/net/eth9"
ln -s ../.. "$dev/net/eth9/device"   # /sys/class/net/IF/device is the PCI function
ln -s ../../../kernel/iommu_groups/5 "$dev/iommu_group"
ln -s ../../../../devices/pci0000:00/0000:03:00.0 "$fs/kernel/iommu_groups/5/devices/0000:03:00.0"
ln -s ../../../../devices/pci0000:00/0000:03:00.1 "$fs/kernel/iommu_groups/5/devices/0000:03:00.1"
fake() { env -u SSH_CONNECTION FANOUT_SYSFS="$fs" FANOUT_NIC_STATE="$fs/state" bash "$NIC" "$@"; }

out=$(fake bind --dry-run eth9 2>&1) || fail "bind --dry-run eth9 on the fake sysfs exited $?: $out"
for want in "0000:03:00.1 shares IOMMU group 5 with 0000:03:00.0 and is bound to 'ixgbe'" \
            "0000:03:00.0 (eth9) leaves the kernel driver ixgbe for vfio-pci" \
            "would record ixgbe in $fs/state/0000:03:00.0.driver" \
            "rollback: fanout-nic unbind 0000:03:00.0"; do
  [[ $out == *"$want"* ]] || fail "bind --dry-run eth9 does not say '$want': $out"
done
[[ $out == *"would run: driverctl set-override 0000:03:00.0 vfio-pci"* \
   || $out == *"would run: dpdk-devbind.py --bind=vfio-pci 0000:03:00.0"* ]] || fail "bind --dry-run eth9 binds how? $out"
[[ ! -e $fs/state ]] || fail "bind --dry-run wrote $fs/state"
ok "bind --dry-run of a PCI port: $(grep -E 'would run: (driverctl|dpdk-devbind)' <<<"$out" | sed 's/^fanout-nic: //')"

rm -rf "$fs/kernel/iommu_groups/5"
expect_refused "no IOMMU groups" fake bind --dry-run 0000:03:00.0
out=$(fake unbind --dry-run 0000:03:00.0 2>&1) && fail "unbind without a recorded driver went ahead: $out"
[[ $out == *"no kernel driver recorded for 0000:03:00.0"* ]] || fail "unbind without a recorded driver: $out"
rm "$dev/driver"
ln -s ../../../bus/pci/drivers/vfio-pci "$dev/driver"
out=$(fake unbind --dry-run --driver ixgbe 0000:03:00.0 2>&1) || fail "unbind --dry-run --driver ixgbe exited $?: $out"
[[ $out == *"would run: dpdk-devbind.py --bind=ixgbe 0000:03:00.0"* || $out == *"would run: driverctl unset-override"* ]] \
  || fail "unbind --dry-run --driver ixgbe: $out"
ok "unbind --dry-run: $(grep 'would run' <<<"$out" | sed 's/^fanout-nic: //')"
