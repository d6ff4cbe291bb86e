#!/usr/bin/env bash
# deploy/fanout-nic.sh refuses what would take the machine or the operator's session off the
# network, without binding anything (every bind here is --dry-run):
#   1. this machine's own default-route interface;
#   2. in a network namespace of the test's own (a veth pair, 198.19.250.0/24): an interface
#      holding the address SSH_CONNECTION says the session is logged in over, one the SSH client is
#      routed through, one carrying the namespace's default route, and a veth, which is no PCI
#      function at all;
#   3. `status` reports the IOMMU, vfio-pci and driverctl state.
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
