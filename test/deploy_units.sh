#!/usr/bin/env bash
# What `meson install` puts on a server, checked from a DESTDIR install into a temporary directory
# (test/meson.build passes the build directory and the configured paths in FANOUT_* variables):
#
#   deploy_units.sh layout   the FHS paths: binaries, units, helpers, example config, docs; nothing
#                            else; every absolute path a unit runs is installed; the installed
#                            example config passes the installed validator
#   deploy_units.sh verify   `systemd-analyze verify` says nothing about any installed unit (it exits
#                            0 on unknown keys, so any output fails), and does complain about a broken
#                            copy (so the check is live)
#   deploy_units.sh prestart the installed ExecStartPre on a fake sysfs (FANOUT_SYSFS): a PCI port bound to
#                            a kernel driver is refused, bound to vfio-pci it is allow-listed with -a; a
#                            vdev missing from FANOUT_EAL_ARGS, an absent iface=, a CPU the machine lacks and
#                            an invalid config are refused; no hugepages (a pool with no free page) is refused
#   deploy_units.sh run      the installed units in a throwaway systemd: a user manager (systemd --user,
#                            as root) in a private mount namespace where the DESTDIR tree is overlaid on
#                            the prefix, in a cgroup of its own. fanout-dataplane@ starts on net_null
#                            with --no-huge, its lcores pinned from the config; fanout-control and
#                            fanoutctl status (exit 0) see it; a SIGKILL makes systemd restart it
#                            (Restart=on-failure); `systemctl stop` sends SIGTERM, the dataplane drains
#                            and exits 0 with balanced counters and its stats file; fanoutctl status
#                            then exits 4. Exits 77 (skip), saying why, when no such systemd can run.
# The verify and run modes need root (mount namespaces, overlayfs); run takes DPDK: run it under
# flock /tmp/fanout-dpdk.lock like the end-to-end tests.
set -euo pipefail

mode=${1:?usage: deploy_units.sh layout|verify|run}
: "${FANOUT_BUILD:?}" "${FANOUT_PREFIX:?}" "${FANOUT_BINDIR:?}" "${FANOUT_SBINDIR:?}" "${FANOUT_LIBEXECDIR:?}" "${FANOUT_BPFDIR:?}"
: "${FANOUT_SYSCONFDIR:?}" "${FANOUT_UNITDIR:?}" "${FANOUT_DOCDIR:?}"

fail() { printf 'deploy-%s: FAIL: %s\n' "${mode/inner/run}" "$*" >&2; exit 1; }
skip() { printf 'deploy-%s: SKIP: %s\n' "${mode/inner/run}" "$*"; exit 77; }
ok() { printf 'deploy-%s: ok: %s\n' "${mode/inner/run}" "$*"; }

CLEANUP=()
T=''
cleanup() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[i]}" || true; done
  [[ $mode == inner || -n ${FANOUT_DEPLOY_KEEP:-} || -z $T ]] || rm -rf "$T"
}
trap cleanup EXIT

if [[ $mode == inner ]]; then   # run's second half, inside the namespace: the same install
  T=${FANOUT_DEPLOY_T:?}
  D=$T/root
else
  if [[ $mode == verify || $mode == run ]] && [[ $(id -u) -ne 0 ]]; then
    skip "needs root for a private mount namespace and overlayfs (this is uid $(id -u))"
  fi
  T=$(mktemp -d /tmp/fanout-deploy-test.XXXXXX)
  export FANOUT_DEPLOY_T=$T
  D=$T/root
  meson install -C "$FANOUT_BUILD" --no-rebuild --destdir "$D" --quiet >"$T/install.log" 2>&1 \
    || { cat "$T/install.log" >&2; fail "meson install --destdir failed"; }
fi

UNITS=(fanout-dataplane@.service fanout-control.service fanout-hugepages.service dev-hugepages1G.mount)

layout() {
  local f
  for f in "$FANOUT_BINDIR"/{fanout-dataplane,fanout-control,fanoutctl} "$FANOUT_SBINDIR/fanout-nic" \
           "$FANOUT_LIBEXECDIR"/fanout/{dataplane-prestart,fanout-dataplane-env}; do
    [[ -f $D$f && -x $D$f ]] || fail "$f is not installed as an executable"
  done
  for f in "${UNITS[@]}"; do
    [[ -f $D$FANOUT_UNITDIR/$f ]] || fail "unit $FANOUT_UNITDIR/$f is not installed"
  done
  [[ -f $D$FANOUT_SYSCONFDIR/fanout/fanout.example.yaml ]] || fail "no $FANOUT_SYSCONFDIR/fanout/fanout.example.yaml"
  [[ -f $D$FANOUT_BPFDIR/fanout_prefilter.bpf.o ]] || fail "no $FANOUT_BPFDIR/fanout_prefilter.bpf.o (the XDP pre-filter)"
  for f in README.md deploy.md config.md control.md; do
    [[ -f $D$FANOUT_DOCDIR/$f ]] || fail "no $FANOUT_DOCDIR/$f"
  done
  ok "binaries in $FANOUT_BINDIR, fanout-nic in $FANOUT_SBINDIR, helpers in $FANOUT_LIBEXECDIR/fanout, units in $FANOUT_UNITDIR, config in $FANOUT_SYSCONFDIR/fanout, BPF object in $FANOUT_BPFDIR, docs in $FANOUT_DOCDIR"

  # nothing lands outside those places
  local stray
  stray=$(find "$D" \( -type f -o -type l \) -printf '/%P\n' | grep -v -e "^$FANOUT_BINDIR/" -e "^$FANOUT_SBINDIR/" \
    -e "^$FANOUT_LIBEXECDIR/fanout/" -e "^$FANOUT_UNITDIR/" -e "^$FANOUT_SYSCONFDIR/fanout/" -e "^$FANOUT_DOCDIR/" \
    -e "^$FANOUT_BPFDIR/" || true)
  [[ -z $stray ]] || fail "installed outside the FHS places: $stray"

  # every absolute path the units run or read is installed, or a system file
  local cmd p
  for f in "${UNITS[@]}"; do
    if grep -q '@[a-z_]*@' "$D$FANOUT_UNITDIR/$f"; then fail "$f has an unsubstituted @variable@"; fi
    while read -r cmd; do
      p=${cmd%% *}
      p=${p#-}
      [[ -x $D$p || -x $p ]] || fail "$f runs $p, which is neither installed nor on this system"
    done < <(sed -n 's/^Exec[A-Za-z]*=//p' "$D$FANOUT_UNITDIR/$f")
  done
  grep -q "^ExecStart=$FANOUT_BINDIR/fanout-dataplane " "$D$FANOUT_UNITDIR/fanout-dataplane@.service" \
    || fail "fanout-dataplane@.service does not run $FANOUT_BINDIR/fanout-dataplane"
  grep -q "^AssertPathExists=$FANOUT_SYSCONFDIR/fanout/%i.yaml" "$D$FANOUT_UNITDIR/fanout-dataplane@.service" \
    || fail "fanout-dataplane@.service does not read $FANOUT_SYSCONFDIR/fanout/%i.yaml"
  ok "every command the units run is installed"

  local out
  out=$("$D$FANOUT_LIBEXECDIR/fanout/fanout-dataplane-env" "$D$FANOUT_SYSCONFDIR/fanout/fanout.example.yaml") \
    || fail "the installed example config does not pass the installed validator"
  grep -qx 'FANOUT_LCORES="0,1,2,3"' <<<"$out" || fail "unexpected lcores from the example config: $out"
  ok "the example config validates (${out//$'\n'/ })"
}

prestart() {
  local pre=$D$FANOUT_LIBEXECDIR/fanout/dataplane-prestart fs=$T/sys out rc
  mkdir -p "$fs/devices/system/cpu/cpu0" "$fs/devices/system/cpu/cpu1" "$fs/bus/pci/drivers/ixgbe" \
    "$fs/bus/pci/drivers/vfio-pci" "$fs/devices/pci0000:00/0000:03:00.0" "$fs/bus/pci/devices" \
    "$fs/class/net/eth9" "$fs/kernel/mm/hugepages/hugepages-2048kB"
  echo 1 >"$fs/devices/system/cpu/cpu1/online"
  echo 1 >"$fs/devices/system/cpu/isolated"
  echo 0 >"$fs/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
  ln -s ../../../devices/pci0000:00/0000:03:00.0 "$fs/bus/pci/devices/0000:03:00.0"
  ln -s ../../../bus/pci/drivers/ixgbe "$fs/devices/pci0000:00/0000:03:00.0/driver"
  sed 's/device: net_af_packet0/device: "0000:03:00.0"/' "$FANOUT_SOURCE/deploy/lab.yaml" >"$T/pci.yaml"
  cp "$FANOUT_SOURCE/deploy/lab.yaml" "$T/vdev.yaml"
  sed 's/lcore: 1$/lcore: 7/' "$FANOUT_SOURCE/deploy/lab.yaml" >"$T/cpu7.yaml"
  # refused: CONFIG ENV-ASSIGNMENT WHY
  refused() {
    local cfg=$1 eal=$2 why=$3
    rc=0
    out=$(FANOUT_SYSFS=$fs FANOUT_EAL_ARGS=$eal "$pre" t "$cfg" - 2>&1) || rc=$?
    [[ $rc -eq 1 && $out == *"$why"* ]] || fail "prestart $cfg with FANOUT_EAL_ARGS='$eal': exit $rc, not a refusal for '$why': $out"
    ok "refused: ${out##*$'\n'}"
  }
  refused "$T/pci.yaml" "--no-huge" "is bound to 'ixgbe', not to a DPDK driver; bind it: fanout-nic bind 0000:03:00.0"
  refused "$T/vdev.yaml" "--no-huge" "EAL needs it as a vdev"
  refused "$T/vdev.yaml" "--no-huge --vdev net_af_packet0,iface=nosuch0" "interface 'nosuch0' does not exist"
  refused "$T/cpu7.yaml" "--no-huge" "this machine has no CPU 7"
  printf 'ports: []\n' >"$T/bad.yaml"
  refused "$T/bad.yaml" "--no-huge" "is not a valid config"
  if [[ -n $(awk '$3 == "hugetlbfs"' /proc/mounts) ]]; then
    refused "$T/vdev.yaml" "--vdev net_af_packet0,iface=eth9" "no free hugepages"
  fi
  rm "$fs/devices/pci0000:00/0000:03:00.0/driver"
  ln -s ../../../bus/pci/drivers/vfio-pci "$fs/devices/pci0000:00/0000:03:00.0/driver"
  out=$(FANOUT_SYSFS=$fs FANOUT_EAL_ARGS="--no-huge -m 512" "$pre" t "$T/pci.yaml" - 2>&1) || fail "prestart refused a vfio-pci port: $out"
  [[ $out == *'FANOUT_EAL_RUN="-l 0,1 --main-lcore 0 --file-prefix fanout-t -a 0000:03:00.0 --no-huge -m 512"'* ]] \
    || fail "prestart's EAL line for a vfio-pci port: $out"
  ok "accepted a vfio-pci port: ${out##*$'\n'}"
  out=$(FANOUT_SYSFS=$fs FANOUT_EAL_ARGS="--no-huge --vdev=net_af_packet0,iface=eth9" FANOUT_MAIN_LCORE=0 \
    "$pre" t "$T/vdev.yaml" "$T/eal.env" 2>&1) || fail "prestart refused a vdev port: $out"
  grep -qx 'FANOUT_EAL_RUN="-l 0,1 --main-lcore 0 --file-prefix fanout-t --no-pci --no-huge --vdev=net_af_packet0,iface=eth9"' \
    "$T/eal.env" || fail "prestart's env file for a vdev port: $(cat "$T/eal.env")"
  ok "accepted a vdev port (--no-pci added): $(cat "$T/eal.env")"
}

need_root() {
  [[ $(id -u) -eq 0 ]] || skip "needs root for a private mount namespace and overlayfs (this is uid $(id -u))"
  command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
  grep -qw overlay /proc/filesystems || skip "the kernel has no overlayfs"
}

# In a private mount namespace: the installed tree over the real one, so the units' absolute
# paths resolve to what `meson install` put in DESTDIR. Runs "$@" there.
overlaid() {
  local dirs=("$FANOUT_PREFIX") d
  [[ $FANOUT_SYSCONFDIR == "$FANOUT_PREFIX"/* ]] || dirs+=("$FANOUT_SYSCONFDIR")
  [[ $FANOUT_UNITDIR == "$FANOUT_PREFIX"/* ]] || dirs+=("$FANOUT_UNITDIR")
  local script="set -e"
  for d in "${dirs[@]}"; do
    mkdir -p "$T/empty$d"
    [[ -d $d ]] || d=$(dirname "$d")
    script+="; mount -t overlay overlay -o lowerdir=$D$d:$d:$T/empty$d $d"
  done
  unshare --mount --propagation private bash -c "$script; exec \"\$@\"" overlaid "$@"
}

verify() {
  need_root
  command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
  local v=$T/verify f out
  mkdir -p "$v" "$T/broken"
  ln -s "$FANOUT_UNITDIR/fanout-dataplane@.service" "$v/fanout-dataplane@main.service"
  local files=("$v/fanout-dataplane@main.service")
  for f in "${UNITS[@]:1}"; do files+=("$FANOUT_UNITDIR/$f"); done
  out=$(overlaid systemd-analyze verify "${files[@]}" 2>&1) || fail "systemd-analyze verify failed: $out"
  [[ -z $out ]] || fail "systemd-analyze verify complains: $out"
  ok "systemd-analyze verify: the four units (fanout-dataplane@ as fanout-dataplane@main) are clean"
  sed 's/^Restart=on-failure/Restart=on-failur/' "$D$FANOUT_UNITDIR/fanout-control.service" >"$T/broken/fanout-control.service"
  out=$(overlaid systemd-analyze verify "$T/broken/fanout-control.service" 2>&1 || true)
  [[ $out == *on-failur* ]] || fail "systemd-analyze verify did not notice a broken Restart= (said: $out)"
  ok "and it does notice a broken copy"
}

# ---- run: a throwaway user manager -------------------------------------------------------------

SC() { XDG_RUNTIME_DIR=/run systemctl --user "$@"; }

wait_for() {  # wait_for SECONDS DESCRIPTION CMD... : poll CMD every 0.1 s until it succeeds
  local secs=$1 what=$2 n
  shift 2
  for ((n = 0; n < secs * 10; n++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  fail "timed out after ${secs}s waiting for $what"
}

run_inner() {  # inside the private mount namespace, in the test's own cgroup
  local inst=$1 port=$2 cfg=$FANOUT_SYSCONFDIR/fanout
  # This namespace gets a /run of its own, which is the manager's XDG_RUNTIME_DIR: %t is /run as for
  # a system unit, outside /tmp (PrivateTmp=) and /run/user (ProtectHome=). sd_booted() looks for
  # /run/systemd/system; ProtectHome= mounts the inaccessible nodes PID 1 would have made.
  mount -t tmpfs -o mode=0755 tmpfs /run
  mkdir -p /run/systemd/system /run/systemd/inaccessible
  (cd /run/systemd/inaccessible && mkdir -m 0 dir && install -m 0 /dev/null reg && mkfifo -m 0 fifo \
    && mknod -m 0 chr c 0 0 && mknod -m 0 blk b 0 0 \
    && python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")' && chmod 0 sock)
  # the instance's config and environment, on a tmpfs over the installed config directory
  mount -t tmpfs tmpfs "$cfg"
  cp "$D$cfg/fanout.example.yaml" "$cfg/"
  cat >"$cfg/$inst.yaml" <<EOF
ports:
  - { device: net_null0, ipv4: 198.18.250.1/24 }
lcores:
  - { lcore: 1, roles: [rx, worker, tx] }
mempool: { mbufs: 4095, header_mbufs: 4095, held_mbufs: 1023, cache: 64 }
mqttsn: { max_sessions: 1024, max_topics: 1024, max_client_topics: 4096, max_subscriptions: 4096, max_inflight: 4096 }
EOF
  echo 'FANOUT_EAL_ARGS="--no-huge -m 256 --vdev net_null0"' >"$cfg/$inst.env"
  printf 'FANOUT_INSTANCE=%s\nFANOUT_CONTROL_ARGS="--listen 127.0.0.1:%s --http off"\n' "$inst" "$port" >"$cfg/control.env"

  local ud=$T/config/systemd/user
  mkdir -p "$ud/fanout-dataplane@.service.d" "$ud/fanout-control.service.d" "$T/state"
  cp "$FANOUT_UNITDIR/fanout-dataplane@.service" "$FANOUT_UNITDIR/fanout-control.service" "$ud/"
  # The test must not change the host's hugepages: the one-shot is masked (Wants= then skips it).
  ln -s /dev/null "$ud/fanout-hugepages.service"
  # No journald in this namespace: output to files instead.
  printf '[Service]\nStandardOutput=append:%s/dp.log\nStandardError=append:%s/dp.log\n' "$T" "$T" \
    >"$ud/fanout-dataplane@.service.d/log.conf"
  printf '[Service]\nStandardOutput=append:%s/control.log\nStandardError=append:%s/control.log\n' "$T" "$T" \
    >"$ud/fanout-control.service.d/log.conf"

  SYSTEMD_LOG_TARGET=console XDG_RUNTIME_DIR=/run XDG_CONFIG_HOME=$T/config XDG_STATE_HOME=$T/state HOME=$T \
    /lib/systemd/systemd --user --unit=basic.target >"$T/manager.log" 2>&1 &
  local mgr=$!
  CLEANUP+=("kill -TERM $mgr; wait $mgr")
  local n
  for ((n = 0; n < 200; n++)); do
    [[ -S /run/systemd/private ]] && break
    kill -0 "$mgr" 2>/dev/null || break
    sleep 0.1
  done
  # A manager that cannot come up here says nothing about the units: skip, with its own words.
  [[ -S /run/systemd/private ]] || skip "systemd --user did not come up in this namespace ($(tail -3 "$T/manager.log" | tr '\n' ' '))"
  ok "a user manager runs (pid $mgr)"

  local unit=fanout-dataplane@$inst.service
  SC start "$unit" || { cat "$T/dp.log" >&2; SC status "$unit" >&2 || true; tail -20 "$T/manager.log" >&2; fail "systemctl start $unit"; }
  CLEANUP+=("XDG_RUNTIME_DIR=/run systemctl --user stop $unit fanout-control.service")
  wait_for 60 "the dataplane's ready line" grep -q 'fanout-dataplane: ready' "$T/dp.log"
  grep -q "EAL -l 0,1 --main-lcore 0 --file-prefix fanout-$inst --no-pci --no-huge -m 256 --vdev net_null0" "$T/dp.log" \
    || fail "ExecStartPre did not derive the EAL arguments from the config: $(grep EAL "$T/dp.log")"
  [[ -S /run/fanout/$inst/dataplane.sock ]] || fail "no control socket in the RuntimeDirectory"
  local pid tid name aff pinned=0
  pid=$(SC show -p MainPID --value "$unit")
  for tid in /proc/"$pid"/task/*; do
    name=$(cat "$tid/comm")
    aff=$(taskset -pc "${tid##*/}" | sed 's/.*: //')
    if [[ $name == rte-worker-1 || $name == lcore-worker-1 ]]; then
      [[ $aff == 1 ]] || fail "lcore 1's thread runs on CPUs $aff, not 1"
      pinned=1
      ok "lcore 1's thread ($name) is pinned to CPU 1 (from the config's lcores)"
    fi
    if [[ ${tid##*/} == "$pid" && $aff != 0 ]]; then fail "the main lcore runs on CPUs $aff, not 0"; fi
  done
  [[ $pinned == 1 ]] || fail "no thread of lcore 1 among $(cat /proc/"$pid"/task/*/comm | tr '\n' ' ')"
  ok "$unit started (pid $pid) with the EAL arguments from its config"
  # A user manager's %S is XDG_CONFIG_HOME up to systemd 253, XDG_STATE_HOME after.
  local sroot=$T/config
  if [[ -d $T/state/fanout ]]; then sroot=$T/state; fi

  SC start fanout-control.service || { cat "$T/control.log" >&2; tail -20 "$T/manager.log" >&2; fail "systemctl start fanout-control"; }
  local fctl=("$FANOUT_BINDIR/fanoutctl" -h 127.0.0.1 -p "$port" --token-file "$sroot/fanout/control.token")
  status_is() { local rc=0; "${fctl[@]}" status >"$T/status.out" 2>&1 || rc=$?; [[ $rc -eq $1 ]]; }
  wait_for 30 "fanoutctl status to exit 0" status_is 0
  grep -q "dataplane: connected" "$T/status.out" || fail "fanoutctl status: $(cat "$T/status.out")"
  ok "fanout-control.service runs; fanoutctl status exits 0: $(grep 'dataplane:' "$T/status.out")"

  kill -KILL "$pid"
  restarted() { local p; p=$(SC show -p MainPID --value "$unit"); [[ $p != 0 && $p != "$pid" ]] && \
    [[ $(grep -c 'fanout-dataplane: ready' "$T/dp.log") -ge 2 ]]; }
  wait_for 60 "systemd to restart the killed dataplane" restarted
  ok "after SIGKILL, Restart=on-failure started it again (NRestarts=$(SC show -p NRestarts --value "$unit"))"

  pid=$(SC show -p MainPID --value "$unit")
  SC stop "$unit"
  local result status
  result=$(SC show -p Result --value "$unit")
  status=$(SC show -p ExecMainStatus --value "$unit")
  [[ $result == success && $status == 0 ]] || fail "stop: Result=$result ExecMainStatus=$status"
  grep -q 'balanced.*balanced' "$T/dp.log" || fail "no balanced summary after SIGTERM: $(tail -3 "$T/dp.log")"
  grep -q '"reason": *"exit"' "$sroot/fanout/$inst/stats.json" \
    || fail "no final stats in the StateDirectory: $(head -c 300 "$sroot/fanout/$inst/stats.json" 2>&1)"
  [[ ! -e /run/fanout/$inst ]] || fail "the RuntimeDirectory outlived the service"
  ok "systemctl stop: SIGTERM, drain, exit 0 ($(grep -o 'rx [0-9]* pkts.*' "$T/dp.log" | tail -1))"
  ok "final stats in the StateDirectory: $sroot/fanout/$inst/stats.json"

  wait_for 30 "fanoutctl status to exit 4 with the dataplane stopped" status_is 4
  ok "fanoutctl status exits 4 once the dataplane is gone: $(grep 'dataplane:' "$T/status.out" | cut -c1-80)"
  SC stop fanout-control.service
}

run() {
  need_root
  [[ -x /lib/systemd/systemd ]] || skip "systemd is not installed (/lib/systemd/systemd)"
  command -v taskset >/dev/null || skip "taskset (util-linux) is not installed"
  local pid1
  pid1=$(cat /proc/1/comm 2>/dev/null || echo '?')
  # A user manager tracks its units in cgroups: a cgroup of the test's own, in the named systemd
  # hierarchy (cgroup v1 or hybrid) and in the unified one, where they are writable.
  local cg=fanout-deploy-test-$$ h hier=()
  for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [[ -w $h/cgroup.procs ]] && { [[ $h != /sys/fs/cgroup ]] || [[ -f $h/cgroup.controllers ]]; }; then
      hier+=("$h")
    fi
  done
  [[ ${#hier[@]} -gt 0 ]] || skip "PID 1 is $pid1, not systemd, and no writable cgroup hierarchy (/sys/fs/cgroup) is there for a user manager"
  for h in "${hier[@]}"; do
    mkdir "$h/$cg"
    CLEANUP+=("find $h/$cg -depth -type d -exec rmdir {} +")
  done
  local inst=t$$ port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  CLEANUP+=("rm -rf /var/run/dpdk/fanout-$inst")
  echo "deploy-run: PID 1 is $pid1; starting a user manager in cgroup $cg (${hier[*]})"
  local rc=0
  # shellcheck disable=SC2016
  overlaid bash -c 'for h in '"${hier[*]}"'; do echo $$ >"$h/'"$cg"'/cgroup.procs"; done; exec bash "$0" inner "$@"' \
    "$0" "$inst" "$port" || rc=$?
  return $rc
}

case $mode in
  layout) layout ;;
  prestart) prestart ;;
  verify) verify ;;
  run) run ;;
  inner) shift; run_inner "$@" ;;
  *) fail "unknown mode $mode" ;;
esac
