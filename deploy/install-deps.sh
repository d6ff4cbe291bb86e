#!/usr/bin/env bash
# Install every Debian 12 package Fanout needs to build, test and run.
#
#   deploy/install-deps.sh            # install what is missing (no-op when all present)
#   FANOUT_APT_UPDATE=always deploy/install-deps.sh   # always refresh the package lists first
#
# Idempotent and non-interactive; run as root on Debian 12 (bookworm).
# When every package is already installed it does not touch apt at all (fast, works offline).
# Otherwise it runs `apt-get update` when the lists are missing or older than
# FANOUT_APT_MAX_AGE_MIN minutes (default 360), installs, and if the install fails it
# refreshes the lists once more and retries.
set -euo pipefail

PACKAGES=(
  # toolchain and build
  build-essential gcc pkg-config meson ninja-build
  # DPDK 22.11 (libdpdk-dev carries the pkg-config file; dpdk has dpdk-devbind.py, testpmd)
  dpdk dpdk-dev libdpdk-dev
  # AF_XDP / XDP; the pre-filter (dataplane/xdp/) is built with clang -target bpf, below
  libbpf-dev libxdp-dev xdp-tools
  # libraries
  libhiredis-dev libcmocka-dev libcyaml-dev libpcap-dev libevent-dev libjansson-dev nettle-dev
  # the XDP pre-filter's BPF object, and fuzzing (libFuzzer lives in libclang-rt-14-dev on bookworm)
  clang libclang-rt-14-dev
  # the tree's style (.clang-format, checked by test/check_tree.sh) and its shell scripts (test/shellcheck.sh)
  clang-format shellcheck
  # persistent NIC bindings (deploy/fanout-nic.sh)
  driverctl
  # sink
  redis-server redis-tools
  # MQTT bridge (libmosquitto) and its tests (a real broker, mosquitto_sub/pub)
  libmosquitto-dev mosquitto mosquitto-clients
  # lab, capture and test tooling
  iproute2 iputils-ping ethtool tcpdump tshark python3 jq procps util-linux
  # dashboard test (headless)
  chromium
  # benchmarks: instruction counts (regression guard) and plots
  valgrind python3-matplotlib
)

log() { printf '[install-deps] %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
  log "must run as root (apt-get install)" >&2
  exit 1
fi

if [[ -r /etc/os-release ]]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  if [[ ${ID:-} != debian || ${VERSION_ID:-} != 12 ]]; then
    log "warning: written for Debian 12, this is ${PRETTY_NAME:-unknown}; trying anyway" >&2
  fi
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300
          -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

missing_packages() {
  local p st
  for p in "${PACKAGES[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $st == ii* ]] || printf '%s\n' "$p"
  done
}

lists_fresh() {
  local max_age=${FANOUT_APT_MAX_AGE_MIN:-360}
  [[ ${FANOUT_APT_UPDATE:-} == always ]] && return 1
  # Fresh if some Release/InRelease file was written within max_age minutes.
  [[ -n $(find /var/lib/apt/lists -maxdepth 1 -name '*Release' -mmin "-$max_age" -print -quit 2>/dev/null) ]]
}

apt_update() {
  log "apt-get update"
  apt-get update -q -o DPkg::Lock::Timeout=300
}

mapfile -t MISSING < <(missing_packages)
if [[ ${#MISSING[@]} -eq 0 && ${FANOUT_APT_UPDATE:-} != always ]]; then
  log "all ${#PACKAGES[@]} packages already installed; nothing to do"
  exit 0
fi
if [[ ${#MISSING[@]} -gt 0 ]]; then
  log "missing (${#MISSING[@]}): ${MISSING[*]}"
fi

# tshark asks whether non-root users may capture; answer "no" up front.
if command -v debconf-set-selections >/dev/null; then
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
fi

if lists_fresh; then
  log "package lists are fresh; skipping apt-get update"
else
  apt_update
fi

log "apt-get install --no-install-recommends ${PACKAGES[*]}"
if ! apt-get install "${APT_OPTS[@]}" "${PACKAGES[@]}"; then
  log "install failed; refreshing package lists and retrying once"
  apt_update
  apt-get install "${APT_OPTS[@]}" "${PACKAGES[@]}"
fi

mapfile -t MISSING < <(missing_packages)
if [[ ${#MISSING[@]} -gt 0 ]]; then
  log "still missing after install: ${MISSING[*]}" >&2
  exit 1
fi
log "done: all ${#PACKAGES[@]} packages installed ($(pkg-config --modversion libdpdk 2>/dev/null | sed 's/^/DPDK /' || echo 'DPDK ?'))"
