#!/usr/bin/env bash
# Reserve 2 MiB hugepages for DPDK and mount hugetlbfs.
#
#   deploy/hugepages.sh [N]        # N pages of 2 MiB (default 512 = 1 GiB); env FANOUT_HUGEPAGES too
#   deploy/hugepages.sh --status   # only report
#
# Idempotent: it raises the 2 MiB pool to N when it holds fewer (it never shrinks a pool that is
# larger: another DPDK process may be using it), and mounts hugetlbfs at /dev/hugepages unless
# something is already mounted there. If the kernel can only give fewer pages than asked (memory
# fragmentation) it warns and exits 0: DPDK processes can still run with --no-huge.
# Exit status 1 only when hugepages cannot be configured at all (not root, no hugetlb support).
set -euo pipefail

log() { printf '[hugepages] %s\n' "$*"; }

MOUNT=/dev/hugepages
SYSFS=/sys/kernel/mm/hugepages/hugepages-2048kB
status_only=0
want=${FANOUT_HUGEPAGES:-512}

for arg in "$@"; do
  case $arg in
    --status) status_only=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    ''|*[!0-9]*) log "usage: $0 [N|--status]" >&2; exit 2 ;;
    *) want=$arg ;;
  esac
done

report() {
  local total free
  total=$(cat "$SYSFS/nr_hugepages" 2>/dev/null || echo 0)
  free=$(cat "$SYSFS/free_hugepages" 2>/dev/null || echo 0)
  log "2 MiB pages: total=$total free=$free ($((free * 2)) MiB free)"
  if [[ -d /sys/devices/system/node/node1 ]]; then
    local n
    for n in /sys/devices/system/node/node*/hugepages/hugepages-2048kB; do
      log "  $(basename "$(dirname "$(dirname "$n")")"): total=$(cat "$n/nr_hugepages") free=$(cat "$n/free_hugepages")"
    done
  fi
  if mountpoint -q "$MOUNT" 2>/dev/null; then
    log "mounted: $(findmnt -n -o SOURCE,TARGET,FSTYPE,OPTIONS "$MOUNT" | tr -s ' ')"
  else
    log "not mounted: $MOUNT"
  fi
  local others
  others=$(findmnt -n -t hugetlbfs -o TARGET | grep -vx "$MOUNT" || true)
  [[ -z $others ]] || log "other hugetlbfs mounts: $(echo "$others" | tr '\n' ' ')"
}

if [[ $status_only -eq 1 ]]; then
  report
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  log "must run as root" >&2
  exit 1
fi
if [[ ! -w $SYSFS/nr_hugepages ]]; then
  log "no writable $SYSFS (kernel without 2 MiB hugetlb support?); use --no-huge" >&2
  report
  exit 1
fi

have=$(cat "$SYSFS/nr_hugepages")
if (( have >= want )); then
  log "pool already holds $have pages (>= $want); leaving it"
else
  log "raising 2 MiB pool from $have to $want pages"
  echo "$want" > "$SYSFS/nr_hugepages" || true
  got=$(cat "$SYSFS/nr_hugepages")
  if (( got < want )); then
    # Compacting memory sometimes frees enough contiguous 2 MiB blocks for a second try.
    if [[ -w /proc/sys/vm/compact_memory ]]; then echo 1 > /proc/sys/vm/compact_memory 2>/dev/null || true; fi
    echo "$want" > "$SYSFS/nr_hugepages" || true
    got=$(cat "$SYSFS/nr_hugepages")
  fi
  if (( got < want )); then
    log "warning: kernel gave only $got of $want pages (fragmented memory); DPDK can still run with --no-huge" >&2
  fi
fi

if mountpoint -q "$MOUNT" 2>/dev/null; then
  log "$MOUNT already mounted"
else
  mkdir -p "$MOUNT"
  if mount -t hugetlbfs -o pagesize=2M nodev "$MOUNT"; then
    log "mounted hugetlbfs (pagesize=2M) at $MOUNT"
  else
    log "could not mount hugetlbfs at $MOUNT" >&2
    report
    exit 1
  fi
fi

report
