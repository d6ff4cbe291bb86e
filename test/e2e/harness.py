"""End-to-end test harness for fanout-dataplane (Python 3 standard library only).

Pieces:
  run_test(main, description)   argument parsing (--build-dir, --pmd, --keep), SIGTERM -> cleanup,
                                PASS/FAIL line and exit status 0/1
  SLOWDOWN, scaled(s)           how much slower than a plain build on an idle machine to allow for
                                (2, 4 for a sanitizer build): every deadline that guards progress is
                                multiplied by it
  wait_until(what, fn, timeout) poll a condition; the only way a test waits for something to happen
  SubnetLease(tag)              a 198.18.K.0/24 of the lab range held (flock) for this process alone
  Lab(tag)                      deploy/lab.sh up/down on a leased subnet and its own names (always
                                torn down; a leftover lab of a crashed run is removed first); sockets
                                and commands inside the client namespace
  Periodic(fn, interval)        a background sender that stops before the lab goes away
  Dataplane(...)                config from deploy/lab.yaml (+ overrides), the process with
                                --no-pci --no-huge, ready wait, snapshot() (SIGUSR1), stop() (SIGTERM)
  loadgen(lab, args)            fanout-loadgen inside the namespace, JSON report
  check_conservation(stats)     rx == delivered + answered + frag_merged + dropped; generated == sent + dropped
  route_balanced / output_balanced / wait_routes_idle
                                the per-route and per-output sums of sinks and bridges
  Capture, tshark_*             tshark capture on the dataplane veth, decode checks
  MQTT-SN encoders / decoder    for the raw UDP clients of the protocol tests
  Relay(lab, rng, loss, dup, max_delay)
                                a client's impaired path to the appliance (loss, duplicates,
                                reordering both ways) in the client namespace: this kernel has no
                                sch_netem for `tc qdisc ... netem`

Every DPDK process gets --no-pci and its own --file-prefix, removed afterwards.
"""
import argparse
import ctypes
import fcntl
import heapq
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAB_SH = REPO / "deploy" / "lab.sh"
LAB_YAML = REPO / "deploy" / "lab.yaml"
DPDK_RUN = Path("/var/run/dpdk")

ARGS = None  # set by run_test
SLOWDOWN = 1.0  # set by run_test: see slowdown()


class TestFailure(Exception):
    """A check of the test failed (as opposed to a harness error)."""


class Terminated(BaseException):
    """SIGTERM (e.g. a meson timeout): unwinds through every context manager."""


def log(msg):
    print(f"[e2e] {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated(f"signal {signum}")


def run_test(main, description, extra_args=None):
    """Parse the common arguments (and the test's own: extra_args(parser)), run main(args) and exit
    0 (pass) or 1 (fail)."""
    global ARGS
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--build-dir", default=str(REPO / "build"),
                    help="meson build directory holding dataplane/ and bench/ (default: <repo>/build)")
    ap.add_argument("--pmd", choices=["af_packet", "af_xdp"], default="af_packet",
                    help="DPDK driver the dataplane attaches to the lab veth with (default af_packet)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs, pcaps)")
    if extra_args:
        extra_args(ap)
    ARGS = ap.parse_args()
    ARGS.build_dir = str(Path(ARGS.build_dir).resolve())
    signal.signal(signal.SIGTERM, _on_sigterm)
    name = Path(sys.argv[0]).stem
    global SLOWDOWN
    SLOWDOWN = slowdown(dataplane_bin())
    if SLOWDOWN != 1:
        log(f"deadlines scaled by {SLOWDOWN:g} (see harness.slowdown)")
    if os.geteuid() != 0:
        print(f"{name}: FAIL: must run as root (network namespaces, DPDK)", flush=True)
        sys.exit(1)
    for exe in (dataplane_bin(), loadgen_bin()):
        if not os.access(exe, os.X_OK):
            print(f"{name}: FAIL: {exe} is missing; build first (meson compile -C {ARGS.build_dir})", flush=True)
            sys.exit(1)
    t0 = time.monotonic()
    try:
        main(ARGS)
    except TestFailure as e:
        print(f"{name}: FAIL: {e}  ({time.monotonic() - t0:.1f} s)", flush=True)
        sys.exit(1)
    except Terminated as e:
        print(f"{name}: FAIL: terminated ({e})", flush=True)
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        print(f"{name}: FAIL: harness error  ({time.monotonic() - t0:.1f} s)", flush=True)
        sys.exit(1)
    print(f"{name}: PASS  ({time.monotonic() - t0:.1f} s)", flush=True)
    sys.exit(0)


def slowdown(exe):
    """The factor every progress deadline is multiplied by: FANOUT_TEST_SLOWDOWN when set; else 4 for
    a sanitizer build (test/meson.build passes FANOUT_SANITIZE; run by hand, the dataplane binary
    tells, since it then references the sanitizer runtime), else 2: CI runs on a busy 2-core machine,
    where a deadline that fits an idle one is missed now and then. A deadline only guards against a
    hang, so erring long costs nothing when the test passes."""
    if os.environ.get("FANOUT_TEST_SLOWDOWN"):
        return max(1.0, float(os.environ["FANOUT_TEST_SLOWDOWN"]))
    san = os.environ.get("FANOUT_SANITIZE")
    if san is None:
        try:
            with open(exe, "rb") as f:
                data = f.read()
            san = "address" if (b"__asan_init" in data or b"__ubsan_handle" in data) else "none"
        except OSError:
            san = "none"
    return 4.0 if san not in ("", "none") else 2.0


def scaled(seconds):
    """A deadline for something that must happen, stretched for a slow build (SLOWDOWN)."""
    return seconds * SLOWDOWN


def dataplane_bin():
    return str(Path(ARGS.build_dir) / "dataplane" / "fanout-dataplane")


def loadgen_bin():
    return str(Path(ARGS.build_dir) / "bench" / "fanout-loadgen")


def workdir(tag):
    """A temporary directory for configs, logs and captures (removed unless --keep)."""
    d = tempfile.mkdtemp(prefix=f"fo-e2e-{tag}-")
    os.chmod(d, 0o755)
    return d


def remove_workdir(d):
    if ARGS is not None and ARGS.keep:
        log(f"kept {d}")
        return
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Lab

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


LEASE_DIR = Path("/run/lock/fanout-e2e-labs")
LEASE_FIRST, LEASE_LAST = 16, 255  # 198.18.0-15.x are left to manual labs (deploy/lab.sh's default 0)


class SubnetLease:
    """198.18.K.0/24 of the lab range 198.18.0.0/15, and the lab name e2eK, for this process alone.

    A lease is an flock on LEASE_DIR/K.lock, so two tests running at once (in this tree or another)
    never get the same K, and a crashed test's lease ends with its process. K starts from a hash of
    the tag (stable across runs, so a test's addresses read the same in every log) and moves on past
    leases held by others. Off-link addresses a test needs (198.19.x.y, another 198.18.K'.y) are
    still inside 198.18.0.0/15 and belong to no lab's segment."""

    def __init__(self, tag):
        self.tag, self.k, self._f = tag, None, None

    def acquire(self):
        LEASE_DIR.mkdir(parents=True, exist_ok=True)
        n = LEASE_LAST - LEASE_FIRST + 1
        start = zlib.crc32(self.tag.encode()) % n
        for i in range(n):
            k = LEASE_FIRST + (start + i) % n
            f = open(LEASE_DIR / f"{k}.lock", "w")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            self.k, self._f = k, f
            return self
        raise RuntimeError(f"every lab subnet 198.18.{LEASE_FIRST}-{LEASE_LAST}.0/24 is leased; "
                           f"look for stuck tests holding {LEASE_DIR}/*.lock (fuser -v)")

    def release(self):
        if self._f:
            self._f.close()
            self._f = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False

    name = property(lambda s: f"e2e{s.k}")
    prefix = property(lambda s: f"198.18.{s.k}")

    def addr(self, host):
        return f"{self.prefix}.{host}"

    # IPv6: 2001:2:0:K::/64 of the benchmarking prefix 2001:2::/48 (RFC 5180), leased with the /24
    prefix6 = property(lambda s: f"2001:2:0:{s.k:x}::")

    def addr6(self, host):
        return f"{self.prefix6}{host:x}"

    def off_link(self, rng):
        """A random address of 198.18.0.0/15 outside this /24: a sender that is off-link on this lab."""
        while True:
            a = f"198.{rng.choice((18, 19))}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            if not a.startswith(self.prefix + "."):
                return a


class Lab:
    """deploy/lab.sh up on a leased subnet (SubnetLease(tag)) for the duration of a with-block.

    The lab's name, namespace and addresses all come from the lease: a test names none of its own.
    A namespace or veth of that name still present when the lease is taken is a leftover of a run
    that crashed before its teardown; it is logged and removed before the lab comes up."""

    def __init__(self, tag, clients=1, static_neigh=False):
        self.tag, self.clients, self.static_neigh = tag, clients, static_neigh
        self.lease = SubnetLease(tag)
        self.env = {}
        self.up = False

    name = property(lambda s: s.lease.name)
    subnet = property(lambda s: s.lease.k)

    def addr(self, host):
        """198.18.K.host on this lab's segment (2 .. clients+1 are the client addresses)."""
        return self.lease.addr(host)

    def off_link(self, rng):
        return self.lease.off_link(rng)

    def addr6(self, host):
        """2001:2:0:K::host: this lab's IPv6 segment (::1 the appliance, ::2 the client after enable_ipv6)."""
        return self.lease.addr6(host)

    appliance_ip6 = property(lambda s: s.addr6(1))
    client_ip6 = property(lambda s: s.addr6(2))

    def enable_ipv6(self):
        """Turn IPv6 on for the client end (the lab keeps it off): 2001:2:0:K::2/64 without duplicate
        address detection, no router solicitations. The root end stays without IPv6."""
        i = self.cl_if
        for k, v in ((f"net.ipv6.conf.{i}.accept_dad", 0), (f"net.ipv6.conf.{i}.router_solicitations", 0),
                     (f"net.ipv6.conf.{i}.accept_ra", 0), (f"net.ipv6.conf.{i}.disable_ipv6", 0)):
            self.run(["sysctl", "-qw", f"{k}={v}"])
        self.run(["ip", "-6", "addr", "add", f"{self.client_ip6}/64", "dev", i, "nodad"])

    def _remove_leftover(self):
        ns = f"fo-{self.name}-cli"
        leftovers = []
        if ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split():
            leftovers.append(f"namespace {ns}")
        if subprocess.run(["ip", "link", "show", "dev", f"fo{self.name}dp"], capture_output=True).returncode == 0:
            leftovers.append(f"interface fo{self.name}dp")
        if not leftovers:
            return
        log(f"removing a leftover lab of a crashed run: {', '.join(leftovers)}")
        r = subprocess.run([str(LAB_SH), "down", "--name", self.name, "--kill"], capture_output=True, text=True,
                           timeout=scaled(60))
        if r.returncode != 0:
            raise RuntimeError(f"cannot remove the leftover lab {self.name}:\n{r.stdout}{r.stderr}")

    def __enter__(self):
        self.lease.acquire()
        try:
            self._remove_leftover()
            cmd = [str(LAB_SH), "up", "--name", self.name, "--subnet", str(self.subnet),
                   "--clients", str(self.clients)]
            if self.static_neigh:
                cmd.append("--static-neigh")
            self.up = True
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(60))
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
            envf = REPO / ".lab" / f"{self.name}.env"
            for line in envf.read_text().splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    self.env[k] = v.strip('"')
        except BaseException:
            self.down()
            raise
        log(f"lab {self.name} ({self.tag}) up: ns {self.ns}, client {self.client_ip}, appliance {self.appliance_ip}, "
            f"dataplane side {self.dp_if}")
        return self

    def __exit__(self, *exc):
        self.down()
        return False

    def down(self):
        if not self.up:
            self.lease.release()
            return
        self.up = False
        old = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish the teardown
        try:
            r = subprocess.run([str(LAB_SH), "down", "--name", self.name, "--kill"], capture_output=True,
                               text=True, timeout=scaled(60))
            if r.returncode != 0:
                print(f"[e2e] lab down {self.name} failed:\n{r.stdout}{r.stderr}", file=sys.stderr)
        finally:
            self.lease.release()  # only once the lab is gone: the next holder must find nothing of it
            signal.signal(signal.SIGTERM, old)

    ns = property(lambda s: s.env["LAB_NS"])
    dp_if = property(lambda s: s.env["LAB_DP_IF"])
    cl_if = property(lambda s: s.env["LAB_CL_IF"])
    appliance_ip = property(lambda s: s.env["LAB_APPLIANCE_IP"])
    client_ip = property(lambda s: s.env["LAB_CLIENT_IP"])
    client_ips = property(lambda s: s.env["LAB_CLIENT_IPS"].split())
    dp_mac = property(lambda s: s.env["LAB_DP_MAC"])
    cl_mac = property(lambda s: s.env["LAB_CL_MAC"])

    def vdev(self, pmd="af_packet"):
        return self.env["LAB_VDEV_AF_XDP"] if pmd == "af_xdp" else self.env["LAB_VDEV_AF_PACKET"]

    def run(self, cmd, timeout=60, check_rc=True, **kw):
        """Run a command inside the client namespace."""
        r = subprocess.run(["ip", "netns", "exec", self.ns] + list(cmd), capture_output=True, text=True,
                           timeout=scaled(timeout), **kw)
        if check_rc and r.returncode != 0:
            raise TestFailure(f"in {self.ns}: {' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
        return r

    def udp_socket(self, bind_ip=None, port=0, timeout=1.0, family=socket.AF_INET):
        """A UDP socket that lives in the client namespace (created by a thread that joined it);
        family AF_INET6 binds the client's IPv6 address (enable_ipv6 first)."""
        def make():
            s = socket.socket(family, socket.SOCK_DGRAM)
            if family == socket.AF_INET6:
                s.bind((bind_ip or self.client_ip6, port))
                s.settimeout(timeout)
                return s
            s.bind((bind_ip or self.client_ip, port))
            s.settimeout(timeout)
            return s
        return self._in_ns(make)

    def raw_socket(self):
        """A raw IPv4 socket (IP_HDRINCL) in the client namespace: datagrams with any source
        address, as an attacker forging them would send (see RawSender)."""
        return self._in_ns(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))

    def _in_ns(self, make):
        out = {}

        def mk():
            try:
                fd = os.open(f"/var/run/netns/{self.ns}", os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                out["s"] = make()
            except BaseException as e:  # reported in the caller's thread
                out["e"] = e

        t = threading.Thread(target=mk)
        t.start()
        t.join()
        if "e" in out:
            raise out["e"]
        return out["s"]


# ---------------------------------------------------------------------------------------------
# Dataplane config: deploy/lab.yaml with line edits

def _yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k}: {_yaml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, str) and (not v or re.search(r"[:#{}\[\],&*!|>'\"%@`]", v) or v.strip() != v):
        return json.dumps(v)
    return str(v)


def lab_config(appliance_cidr="198.18.0.1/24", device="net_af_packet0", overrides=None):
    """deploy/lab.yaml with the port's device and address replaced and `overrides` applied.

    overrides: {"mqttsn.retry_interval_ms": 200, "rings": {...}, "stats.file": "/x"} - a dotted key
    replaces (or adds) that key in the section's block or flow mapping; a top-level key replaces
    the whole entry (block included)."""
    text = LAB_YAML.read_text()
    text = re.sub(r"(?m)^(\s*-?\s*device:\s*)\S+", lambda m: m.group(1) + device, text, count=1)
    text = re.sub(r"(?m)^(\s*ipv4:\s*)\S+", lambda m: m.group(1) + appliance_cidr, text, count=1)
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    for key, val in (overrides or {}).items():
        parts = key.split(".")
        if len(parts) == 1:
            idx = next((i for i, ln in enumerate(lines) if re.match(rf"^{re.escape(key)}:", ln)), None)
            if idx is None:
                lines.append(f"{key}: {_yaml_value(val)}")
                continue
            end = idx + 1
            while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
                end += 1
            lines[idx:end] = [f"{key}: {_yaml_value(val)}"]
            continue
        if len(parts) != 2:
            raise ValueError(f"override key too deep: {key}")
        sec, sub = parts
        idx = next((i for i, ln in enumerate(lines) if re.match(rf"^{re.escape(sec)}:", ln)), None)
        if idx is None:
            lines.append(f"{sec}:")
            lines.append(f"  {sub}: {_yaml_value(val)}")
            continue
        m = re.match(rf"^{re.escape(sec)}:\s*\{{(.*)\}}\s*$", lines[idx])
        if m:  # flow mapping
            items = [x.strip() for x in m.group(1).split(",") if x.strip()]
            items = [x for x in items if not x.startswith(f"{sub}:")] + [f"{sub}: {_yaml_value(val)}"]
            lines[idx] = f"{sec}: {{ {', '.join(items)} }}"
            continue
        end = idx + 1
        found = False
        while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
            if re.match(rf"^  {re.escape(sub)}:", lines[end]):
                e2 = end + 1
                while e2 < len(lines) and lines[e2].startswith("    "):
                    e2 += 1
                lines[end:e2] = [f"  {sub}: {_yaml_value(val)}"]
                found = True
                break
            end += 1
        if not found:
            lines.insert(idx + 1, f"  {sub}: {_yaml_value(val)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Dataplane process

class Dataplane:
    """fanout-dataplane on a lab (or any vdev): start, snapshot, stop; cleaned up on failure.

    Use as a context manager: leaving the block with an exception prints the log, kills the
    process and removes its file-prefix directory; stop() inside the block returns the final
    stats (the exit snapshot)."""

    def __init__(self, tag, lab=None, overrides=None, pmd=None, vdev=None, device=None,
                 appliance_cidr=None, config_text=None, duration=None, extra_eal=None, ready_timeout=30,
                 extra_app=None):
        self.tag = tag
        self.dir = workdir(tag)
        self.prefix = f"fo-e2e-{tag}-{os.getpid()}"
        pmd = pmd or (ARGS.pmd if ARGS else "af_packet")
        if lab is not None:
            vdev = vdev or lab.vdev(pmd)
            appliance_cidr = appliance_cidr or f"{lab.appliance_ip}/24"
        device = device or vdev.split(",")[0]
        self.config_path = os.path.join(self.dir, "dataplane.yaml")
        self.stats_path = os.path.join(self.dir, "stats.json")
        self.log_path = os.path.join(self.dir, "dataplane.log")
        if config_text is None:
            config_text = lab_config(appliance_cidr or "198.18.0.1/24", device, overrides)
        Path(self.config_path).write_text(config_text)
        self.cmd = [dataplane_bin(), "-l", "0,1", "--no-pci", "--no-huge", "-m", "512",
                    "--file-prefix", self.prefix, "--vdev", vdev] + list(extra_eal or []) + \
                   ["--", "--config", self.config_path, "--stats", self.stats_path]
        if duration:
            self.cmd += ["--duration", str(duration)]
        self.cmd += list(extra_app or [])
        self.ready_timeout = ready_timeout
        self.proc = None
        self.final = None
        self.returncode = None

    # -- lifecycle
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self._fail_cleanup()
            raise
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            self._fail_cleanup()
        else:
            if self.proc and self.proc.poll() is None:
                self.stop()
            self._cleanup_prefix()
            remove_workdir(self.dir)
        return False

    def start(self):
        """Starts the process; started again (twice at most) when net_af_packet could not join its
        PACKET_FANOUT group: the PMD numbers the group (pid ^ ifindex) & 0xffff, so two dataplanes on
        veths of consecutive ifindexes can draw the same number and the kernel refuses the second with
        EINVAL. A new process has another pid."""
        for attempt in range(3):
            try:
                return self._start_once()
            except TestFailure:
                if attempt == 2 or "could not set PACKET_FANOUT" not in self.log():
                    raise
                self._fail_cleanup()
                log(f"{self.tag}: its PACKET_FANOUT group number was taken; starting it again")

    def _start_once(self):
        log("dataplane: " + " ".join(self.cmd))
        self._logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self._logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_until("the dataplane to print 'ready'",
                       lambda: "fanout-dataplane: ready" in self.log() or self.proc.poll() is not None,
                       timeout=self.ready_timeout)
        except TestFailure as e:
            raise TestFailure(f"{e} (still running)")
        if self.proc.poll() is not None:
            raise TestFailure(f"dataplane exited {self.proc.returncode} before it was ready")
        log(f"dataplane ready (pid {self.proc.pid})")
        return self

    def wait_exit(self, timeout):
        """For --duration runs: wait for the process to end by itself; returns the final stats."""
        try:
            self.returncode = self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            raise TestFailure(f"dataplane did not exit within {scaled(timeout):.0f} s")
        return self._final_stats()

    def stop(self, timeout=20):
        """SIGTERM, wait, return the exit snapshot; fails if the exit is not clean."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            raise TestFailure(f"dataplane did not exit within {scaled(timeout):.0f} s of SIGTERM")
        return self._final_stats()

    def _final_stats(self):
        self._logf.close()
        self._cleanup_prefix()
        if self.returncode != 0:
            raise TestFailure(f"dataplane exited with status {self.returncode}")
        try:
            self.final = json.loads(Path(self.stats_path).read_text())
        except (OSError, ValueError) as e:
            raise TestFailure(f"no final stats in {self.stats_path}: {e}")
        check(self.final.get("reason") == "exit", f"final stats reason is {self.final.get('reason')!r}, not 'exit'")
        tail = [ln for ln in self.log().splitlines() if ln.startswith("fanout-dataplane: rx")]
        if tail:
            log(tail[-1])
        return self.final

    def snapshot(self, timeout=5.0):
        """SIGUSR1 and the JSON the dataplane then writes (waits for a new file)."""
        check(self.proc.poll() is None, f"dataplane exited ({self.proc.returncode}) before a snapshot")

        def ident():
            try:
                st = os.stat(self.stats_path)
                return (st.st_ino, st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                return None
        before = ident()
        self.proc.send_signal(signal.SIGUSR1)

        def fresh():
            now = ident()
            if now is None or now == before:
                return None
            s = json.loads(Path(self.stats_path).read_text())  # ValueError while half-written: retried
            return s if s.get("reason") == "SIGUSR1" else None
        return wait_until("a new stats snapshot after SIGUSR1", fresh, timeout=timeout, step=0.01)

    def settled_snapshot(self, quiet=0.2, timeout=10):
        """A snapshot once the traffic sent so far has been taken in: rx unchanged for `quiet` s and
        nothing in the pipeline."""
        last = {"rx": None, "since": 0.0}

        def settled():
            s = self.snapshot()
            t = s["totals"]
            now = time.monotonic()
            if t["rx"] != last["rx"] or t["in_pipeline"] or t["out"]["in_pipeline"]:
                last["rx"], last["since"] = t["rx"], now
                return None
            return s if now - last["since"] >= quiet else None
        return wait_until("the dataplane to take in what was sent", settled, timeout=timeout, step=0.05)

    def log(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def port_mac(self, port=0):
        m = re.search(rf"(?m)^port {port}: \S+ \(ethdev \d+\) mac ([0-9a-f:]{{17}})", self.log())
        return m.group(1) if m else None

    def print_log(self, header="dataplane log"):
        print(f"----- {header} ({self.log_path}) -----")
        print(self.log().rstrip())
        print("----- end of log -----", flush=True)

    def _cleanup_prefix(self):
        shutil.rmtree(DPDK_RUN / self.prefix, ignore_errors=True)

    def _fail_cleanup(self):
        old = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=scaled(5))
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
            if self.proc:
                try:
                    self._logf.close()
                except Exception:
                    pass
            self.print_log()
            self._cleanup_prefix()
            log(f"files kept for inspection in {self.dir}")
        finally:
            signal.signal(signal.SIGTERM, old)


# ---------------------------------------------------------------------------------------------
# Load generator

def loadgen(lab, args, timeout=120, expect_rc=None):
    """fanout-loadgen inside the lab namespace with --json -; returns (report dict, exit code)."""
    cmd = ["ip", "netns", "exec", lab.ns, loadgen_bin(), "--gateway", lab.appliance_ip] + [str(a) for a in args] + \
          ["--json", "-"]
    log("loadgen: " + " ".join(cmd[4:]))
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(timeout))
    except subprocess.TimeoutExpired as e:
        raise TestFailure(f"loadgen did not finish within {scaled(timeout):.0f} s; stderr: {e.stderr}")
    sys.stdout.write(r.stderr)
    sys.stdout.flush()
    try:
        rep = json.loads(r.stdout)
    except ValueError:
        raise TestFailure(f"loadgen exited {r.returncode} without a JSON report; stdout: {r.stdout[:2000]!r}")
    if expect_rc is not None:
        check(r.returncode == expect_rc, f"loadgen exited {r.returncode} (expected {expect_rc}): "
                                         f"{rep['result']['verdict']}")
    return rep, r.returncode


# ---------------------------------------------------------------------------------------------
# Stats checks

def nonzero(d):
    return {k: v for k, v in d.items() if v}


def conservation_summary(stats):
    t = stats["totals"]
    o = t["out"]
    return (f"rx {t['rx']} = delivered {t['delivered']} + answered {t['answered']} + frag_merged {t['frag_merged']}"
            f" + dropped {t['dropped']}"
            f" (in pipeline {t['in_pipeline']}); out generated {o['generated']} = sent {o['sent']} +"
            f" dropped {o['dropped']} (in pipeline {o['in_pipeline']}); drops {nonzero(t['drops']) or 'none'};"
            f" out drops {nonzero(o['drops']) or 'none'}")


def check_conservation(stats):
    """Assert both conservation sums of a (final) snapshot; returns the one-line summary."""
    t = stats["totals"]
    o = t["out"]
    summary = conservation_summary(stats)
    problems = []
    if t["rx"] != t["delivered"] + t["answered"] + t["frag_merged"] + t["dropped"] or not t["balanced"]:
        problems.append("rx != delivered + answered + frag_merged + dropped")
    if t["dropped"] != sum(t["drops"].values()):
        problems.append(f"dropped {t['dropped']} != sum of drop reasons {sum(t['drops'].values())}")
    if o["generated"] != o["sent"] + o["dropped"] or not o["balanced"]:
        problems.append("out generated != sent + dropped")
    if o["dropped"] != sum(o["drops"].values()):
        problems.append(f"out dropped {o['dropped']} != sum of out drop reasons {sum(o['drops'].values())}")
    check(not problems, "conservation violated: " + "; ".join(problems) + ": " + summary)
    log("conservation: " + summary)
    return summary


def route_balanced(r):
    """A sink or bridge route (ROUTES): every matched message written or dropped under a named
    reason, and nothing still queued."""
    return r["matched"] == r["written"] + r["failed"] + r["ring_full"] + r["pool_empty"] and r["backlog"] == 0


def output_balanced(x):
    """A sink or bridge (OUTPUTS or the exit stats): matched == written + dropped, nothing queued."""
    return x["backlog"] == 0 and x["matched"] == x["written"] + x["dropped"]


def wait_routes_idle(fetch, kind, what, timeout=20):
    """Until every route of `kind` ("sink" or "bridge") in fetch() ({name: route}) has drained and
    balances; returns those routes."""
    def idle():
        rs = fetch()
        return rs if all(route_balanced(x) for x in rs.values() if x["kind"] == kind) else None
    return wait_until(f"{what}: {kind} backlog drained and counts balanced", idle, timeout=timeout, step=0.2)


def events(stats):
    return stats["totals"]["events"]


def sessions(stats):
    return sum(w["sessions"] for w in stats["workers"])


# ---------------------------------------------------------------------------------------------
# tshark

class Capture:
    """tshark -i IFACE -w FILE -f FILTER, started before traffic and stopped after.

    ns: run tshark inside that namespace (e.g. the client side) instead of the root namespace.
    Note: on the dataplane end of a lab (root namespace) tshark sees only what the dataplane
    receives: net_af_packet transmits with PACKET_QDISC_BYPASS, which skips the packet taps.
    To see the appliance's output, capture on the client end (lab.cl_if, ns=lab.ns)."""

    def __init__(self, iface, path, bpf="", ns=None, start_timeout=15):
        self.iface, self.path, self.bpf, self.ns = iface, path, bpf, ns
        self.start_timeout = start_timeout
        self.proc = None

    def __enter__(self):
        cmd = (["ip", "netns", "exec", self.ns] if self.ns else []) + \
              ["tshark", "-n", "-i", self.iface, "-w", self.path, "-q"] + (["-f", self.bpf] if self.bpf else [])
        self.errpath = self.path + ".stderr"
        self._err = open(self.errpath, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._err, stdin=subprocess.DEVNULL)
        try:
            wait_until(f"tshark to capture on {self.iface}",
                       lambda: "Capturing on" in Path(self.errpath).read_text(errors="replace") or
                       self.proc.poll() is not None, timeout=self.start_timeout)
        except TestFailure:
            pass
        err = Path(self.errpath).read_text(errors="replace")
        if "Capturing on" in err and self.proc.poll() is None:
            # dumpcap prints this as it opens the socket; the filter goes on just around it and
            # nothing observable marks that moment, hence a short settle
            time.sleep(scaled(0.3))
            return self
        self.stop()
        raise TestFailure(f"tshark did not start capturing on {self.iface}: {err}")

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            time.sleep(scaled(0.3))  # frames still on the veth when the caller is done reach the file
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._err.close()


def tshark_read(path, args, timeout=60):
    cmd = ["tshark", "-n", "-r", path, "-d", "udp.port==1883,mqttsn", "-o", "ip.check_checksum:TRUE",
           "-o", "udp.check_checksum:TRUE"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(timeout))
    if r.returncode != 0:
        raise TestFailure(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr}")
    return r.stdout


def tshark_fields(path, fields, display_filter=None):
    args = ["-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        args += ["-e", f]
    if display_filter:
        args += ["-Y", display_filter]
    return [ln.split("\t") for ln in tshark_read(path, args).splitlines() if ln.strip()]


def tshark_problems(path, src_ip=None):
    """Packets (from src_ip, if given) that tshark flags malformed or with expert errors: the
    one-line summary and the -V detail of each."""
    flt = "_ws.malformed || _ws.expert.severity >= \"Error\""
    if src_ip:
        flt = f"ip.src == {src_ip} && ({flt})"
    summary = tshark_read(path, ["-Y", flt])
    detail = tshark_read(path, ["-Y", flt, "-V"]) if summary.strip() else ""
    return summary.strip(), detail


MQTTSN_TYPE_NAMES = {
    0x00: "ADVERTISE", 0x01: "SEARCHGW", 0x02: "GWINFO", 0x04: "CONNECT", 0x05: "CONNACK",
    0x06: "WILLTOPICREQ", 0x07: "WILLTOPIC", 0x08: "WILLMSGREQ", 0x09: "WILLMSG", 0x0A: "REGISTER",
    0x0B: "REGACK", 0x0C: "PUBLISH", 0x0D: "PUBACK", 0x0E: "PUBCOMP", 0x0F: "PUBREC", 0x10: "PUBREL",
    0x12: "SUBSCRIBE", 0x13: "SUBACK", 0x14: "UNSUBSCRIBE", 0x15: "UNSUBACK", 0x16: "PINGREQ",
    0x17: "PINGRESP", 0x18: "DISCONNECT", 0x1A: "WILLTOPICUPD", 0x1B: "WILLTOPICRESP", 0x1C: "WILLMSGUPD",
    0x1D: "WILLMSGRESP", 0xFE: "ENCAPSULATED",
}


def mqttsn_types_from(path, src_ip):
    """{type name: count} of MQTT-SN messages tshark decoded in packets from src_ip."""
    counts = {}
    for row in tshark_fields(path, ["mqttsn.msg.type"], f"ip.src == {src_ip} && mqttsn"):
        for v in row[0].split(","):
            if v:
                name = MQTTSN_TYPE_NAMES.get(int(v, 0), f"0x{int(v, 0):02x}")
                counts[name] = counts.get(name, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------------
# MQTT-SN v1.2 messages (for raw UDP clients)

CONNECT, CONNACK, REGISTER, REGACK, PUBLISH, PUBACK = 0x04, 0x05, 0x0A, 0x0B, 0x0C, 0x0D
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18
F_DUP, F_QOS0, F_QOS1, F_QOS2, F_QOSM1, F_RETAIN, F_WILL, F_CLEAN = 0x80, 0x00, 0x20, 0x40, 0x60, 0x10, 0x08, 0x04
TID_NORMAL, TID_PREDEFINED, TID_SHORT = 0, 1, 2
RC_ACCEPTED, RC_CONGESTION, RC_INVALID_TOPIC, RC_NOT_SUPPORTED = 0, 1, 2, 3


def msg(mtype, body=b""):
    n = len(body) + 2
    if n < 256:
        return bytes([n, mtype]) + body
    return b"\x01" + struct.pack("!HB", n + 2, mtype) + body


def m_connect(client_id, keepalive=60, flags=F_CLEAN):
    return msg(CONNECT, struct.pack("!BBH", flags, 1, keepalive) + client_id.encode())


def m_register(topic, msgid, topic_id=0):
    return msg(REGISTER, struct.pack("!HH", topic_id, msgid) + topic.encode())


def m_regack(topic_id, msgid, rc=0):
    return msg(REGACK, struct.pack("!HHB", topic_id, msgid, rc))


def m_publish(topic_id, msgid, data, qos_flag=F_QOS0, tid_type=TID_NORMAL, dup=False):
    return msg(PUBLISH, struct.pack("!BHH", qos_flag | tid_type | (F_DUP if dup else 0), topic_id, msgid) + data)


def m_puback(topic_id, msgid, rc=0):
    return msg(PUBACK, struct.pack("!HHB", topic_id, msgid, rc))


def m_subscribe(topic, msgid, qos_flag=F_QOS0):
    return msg(SUBSCRIBE, struct.pack("!BH", qos_flag | TID_NORMAL, msgid) + topic.encode())


def m_pingreq(client_id=b""):
    return msg(PINGREQ, client_id)


def m_disconnect(duration=None):
    return msg(DISCONNECT, b"" if duration is None else struct.pack("!H", duration))


WILLTOPICREQ, WILLTOPIC, WILLMSGREQ, WILLMSG = 0x06, 0x07, 0x08, 0x09


def m_willtopic(topic, qos_flag=F_QOS0):
    """WILLTOPIC; an empty topic gives the 2-octet form that deletes the will (spec 5.4.7)."""
    return msg(WILLTOPIC, b"" if not topic else bytes([qos_flag]) + topic.encode())


def m_willmsg(data):
    return msg(WILLMSG, data)


def decode(data):
    """(type, body) of one MQTT-SN datagram, or raises ValueError."""
    if len(data) < 2:
        raise ValueError("short")
    if data[0] == 1:
        if len(data) < 4:
            raise ValueError("short long form")
        n = struct.unpack("!H", data[1:3])[0]
        mtype, body = data[3], data[4:n]
    else:
        n = data[0]
        mtype, body = data[1], data[2:n]
    if n != len(data):
        raise ValueError(f"length field {n} != datagram {len(data)}")
    return mtype, body


class RawSender:
    """Forged UDP datagrams from the lab namespace: IPv4 + UDP headers built here, so the source
    address and port are whatever the caller says (the appliance cannot tell them from real)."""

    def __init__(self, lab, port=1883):
        self.sock = lab.raw_socket()
        self.dst = lab.appliance_ip
        self.port = port
        self.sent_frames = 0
        self.sent_wire = 0  # Ethernet frame bytes, padded to the 60-byte minimum

    def close(self):
        self.sock.close()

    def send(self, src_ip, src_port, payload):
        udp = struct.pack("!HHHH", src_port, self.port, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         socket.inet_aton(src_ip), socket.inet_aton(self.dst))
        ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
        self.sock.sendto(ip + udp, (self.dst, 0))
        self.sent_frames += 1
        self.sent_wire += wire_bytes(len(payload))


def _ip_checksum(hdr):
    s = sum(struct.unpack(f"!{len(hdr) // 2}H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def wire_bytes(udp_payload_len):
    """The Ethernet frame an untagged IPv4/UDP datagram occupies, padded to 60 bytes (no FCS)."""
    return max(60, 14 + 20 + 8 + udp_payload_len)


class RawClient:
    """A raw MQTT-SN client on a UDP socket in the lab namespace."""

    def __init__(self, lab, bind_ip=None, port=1883, timeout=1.0, auto_regack=True, family=socket.AF_INET):
        self.sock = lab.udp_socket(bind_ip, timeout=timeout, family=family)
        self.gw = (lab.appliance_ip6 if family == socket.AF_INET6 else lab.appliance_ip, port)
        self.msgid = 0
        # A gateway REGISTER that arrives while waiting for something else is answered with
        # REGACK, as every MQTT-SN client must (spec 6.10): that is how the appliance proves
        # this address before it delivers anything to it (docs/security.md).
        self.auto_regack = auto_regack
        self.gw_registers = []  # (topic_id, msg_id, name) of every gateway REGISTER answered so

    def close(self):
        self.sock.close()

    def next_id(self):
        self.msgid = self.msgid % 65535 + 1
        return self.msgid

    def send(self, data):
        self.sock.sendto(data, self.gw)

    def recv(self, timeout=None):
        """(type, body) of the next datagram, or None on timeout."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        return decode(data)

    def expect(self, mtype, timeout=2.0, skip=()):
        """Wait for a message of mtype (skipping types in skip); returns its body."""
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure(f"no {MQTTSN_TYPE_NAMES.get(mtype)} within {timeout:.0f} s")
            m = self.recv(left)
            if m is None:
                continue
            if m[0] == mtype:
                return m[1]
            if m[0] == REGISTER and self.auto_regack:
                self.regack(m[1])
                continue
            if m[0] in skip:
                continue
            raise TestFailure(f"expected {MQTTSN_TYPE_NAMES.get(mtype)}, got "
                              f"{MQTTSN_TYPE_NAMES.get(m[0], hex(m[0]))} {m[1].hex()}")

    def regack(self, body, rc=0):
        """Answer a gateway REGISTER (its body) with REGACK echoing its TopicId and MsgId."""
        tid, mid = struct.unpack("!HH", body[:4])
        self.gw_registers.append((tid, mid, body[4:].decode(errors="replace")))
        self.send(m_regack(tid, mid, rc))
        return tid, mid

    def expect_nothing(self, wait=0.5):
        m = self.recv(wait)
        check(m is None, f"expected no reply, got {MQTTSN_TYPE_NAMES.get(m[0], hex(m[0])) if m else ''} "
                         f"{m[1].hex() if m else ''}")

    def connect(self, client_id, keepalive=60, flags=F_CLEAN):
        self.send(m_connect(client_id, keepalive, flags))
        body = self.expect(CONNACK)
        return body[0]

    def register(self, topic):
        mid = self.next_id()
        self.send(m_register(topic, mid))
        body = self.expect(REGACK)
        tid, rmid, rc = struct.unpack("!HHB", body)
        check(rmid == mid, f"REGACK msg id {rmid} != {mid}")
        check(rc == 0, f"REGACK rc {rc} for {topic}")
        return tid

    def subscribe(self, topic, qos_flag=F_QOS0):
        mid = self.next_id()
        self.send(m_subscribe(topic, mid, qos_flag))
        body = self.expect(SUBACK)
        flags, tid, rmid, rc = struct.unpack("!BHHB", body)
        check(rmid == mid, f"SUBACK msg id {rmid} != {mid}")
        return tid, rc


class Relay(threading.Thread):
    """A client's impaired path to the appliance, in the client namespace (this machine's kernel has
    no sch_netem, so `tc qdisc ... netem` is not available): a UDP socket the client sends to instead
    of the appliance. Every datagram either way is dropped with probability `loss`, doubled with
    `dup` and delayed by 0..max_delay s each, so datagrams overtake each other. The appliance sees
    the client at the relay's address; the client is whoever last sent to the relay from elsewhere.
    `counts` says what was done: in, lost, doubled, reordered."""

    def __init__(self, lab, rng, loss, dup, max_delay, port=1883):
        super().__init__(daemon=True)
        self.sock = lab.udp_socket(lab.client_ip, timeout=0.005)
        self.addr = self.sock.getsockname()
        self.gw = (lab.appliance_ip, port)
        self.client = None
        self.rng = rng
        self.loss, self.dup, self.max_delay = loss, dup, max_delay
        self.q, self.seq = [], 0
        self.stop_ev = threading.Event()
        self.counts = {"in": 0, "lost": 0, "doubled": 0, "reordered": 0}
        self.last_due = {}

    def _queue(self, data, dest):
        self.counts["in"] += 1
        if self.rng.random() < self.loss:
            self.counts["lost"] += 1
            return
        copies = 2 if self.rng.random() < self.dup else 1
        self.counts["doubled"] += copies - 1
        for _ in range(copies):
            due = time.monotonic() + self.rng.random() * self.max_delay
            if due < self.last_due.get(dest, 0):
                self.counts["reordered"] += 1
            self.last_due[dest] = max(due, self.last_due.get(dest, 0))
            self.seq += 1
            heapq.heappush(self.q, (due, self.seq, data, dest))

    def run(self):
        while not self.stop_ev.is_set():
            try:
                data, src = self.sock.recvfrom(65535)
                if src == self.gw:
                    if self.client:
                        self._queue(data, self.client)
                else:
                    self.client = src
                    self._queue(data, self.gw)
            except (socket.timeout, BlockingIOError):
                pass
            now = time.monotonic()
            while self.q and self.q[0][0] <= now:
                _, _, data, dest = heapq.heappop(self.q)
                self.sock.sendto(data, dest)

    def stop(self):
        self.stop_ev.set()
        self.join(5)
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# RESP (the control sockets of fanout-dataplane and fanout-control) and the rollout split

class RespError(Exception):
    """An -ERR reply."""


def _resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Resp:
    """A blocking RESP client over a unix socket path or (host, port); token: AUTH with it first
    (fanout-control's token, Control.token)."""

    def __init__(self, where, timeout=10.0, raw=False, token=None):
        self.raw = raw  # bulk strings as bytes (binary stream payloads), else text
        if isinstance(where, (str, Path)):
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(scaled(timeout))
            self.s.connect(str(where))
        else:
            self.s = socket.create_connection(where, timeout=scaled(timeout))
        self.buf = b""
        if token is not None:
            self.call("AUTH", token)

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data if self.raw else data.decode(errors="replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError(f"bad RESP line {line!r}")

    def call(self, *args):
        self.s.sendall(_resp_encode(args))
        return self._read()

    def json(self, *args):
        return json.loads(self.call(*args))


def _mix64(x):
    m = (1 << 64) - 1
    x ^= x >> 33
    x = (x * 0xff51afd7ed558ccd) & m
    x ^= x >> 33
    x = (x * 0xc4ceb9fe1a85ec53) & m
    x ^= x >> 33
    return x & 0xffffffff


def client_id_hash(client_id):
    """include/fanout/client_hash.h fo_client_id_hash."""
    x = 0xcbf29ce484222325
    for b in (client_id.encode() if isinstance(client_id, str) else client_id):
        x ^= b
        x = (x * 0x100000001b3) & ((1 << 64) - 1)
    return _mix64(x)


def client_addr_hash(ip, port):
    """include/fanout/client_hash.h fo_client_hash (ip as dotted string)."""
    a, b, c, d = (int(x) for x in ip.split("."))
    return _mix64(((a << 24 | b << 16 | c << 8 | d) << 16) | port)


def on_canary(client_id, share_bp):
    return client_id_hash(client_id) % 10000 < share_bp


# ---------------------------------------------------------------------------------------------
# fanout-control, fanoutctl and route collectors

def control_bin():
    return str(Path(ARGS.build_dir) / "control" / "fanout-control")


def fanoutctl_bin():
    return str(Path(ARGS.build_dir) / "control" / "fanoutctl")


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DPDK_LOCK = "/tmp/fanout-dpdk.lock"


class DpdkLock:
    """One busy DPDK process (or pair) at a time on this machine: flock on DPDK_LOCK (benchmarks and
    manual runs take it; CI runs the tests one at a time under it)."""

    def __enter__(self):
        self.f = open(DPDK_LOCK, "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()
        return False


def end_process(proc, sig=signal.SIGTERM, timeout=10):
    """Send sig to a running Popen and reap it (SIGKILL after timeout s); returns None for the caller's
    field. A stopped (SIGSTOP) process is continued first so it can act on the signal."""
    if proc and proc.poll() is None:
        if sig != signal.SIGKILL:
            proc.send_signal(signal.SIGCONT)
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return None


def wait_until(what, fn, timeout=15.0, step=0.05, fail=True):
    """fn() until truthy (exceptions retried); returns its value or fails naming `what`. The timeout
    is a guard against a hang, scaled by SLOWDOWN: a passing test never waits for it. fail=False
    returns None instead, for a caller whose own check then says what is missing."""
    timeout = scaled(timeout)
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        try:
            v = fn()
            if v:
                return v
        except (OSError, ValueError, RespError, ConnectionError) as e:
            last = e
        time.sleep(step)
    if not fail:
        return None
    raise TestFailure(f"timed out after {timeout:.0f} s waiting for {what}" + (f" ({last})" if last else ""))


class Periodic:
    """fn() every `interval` s on a thread for the duration of a with-block: traffic beside the
    test's own (bad packets, keepalives). Leaving the block stops and joins the thread, so it ends
    before the lab or the processes around it are torn down and never sends into a namespace that
    is gone. An exception in fn ends the thread and fails the test when the block ends (check()
    raises it at once)."""

    def __init__(self, what, fn, interval):
        self.what, self.fn, self.interval = what, fn, interval
        self.stop_ev = threading.Event()
        self.count = 0
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_ev.wait(self.interval):
            try:
                self.fn()
            except Exception as e:
                self.error = e
                return
            self.count += 1

    def check(self):
        if self.error is not None:
            raise TestFailure(f"{self.what} failed after {self.count} rounds: {self.error!r}")

    def stop(self):
        self.stop_ev.set()
        self.thread.join()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, et, ev, tb):
        self.stop()
        if et is None:
            self.check()
        return False


class Control:
    """fanout-control for a test: RESP and HTTP on free loopback ports, its own state dir.

    start()/kill()/stop(); call(*args) and json(*args) over RESP (authenticated with the token it made
    in its state dir, `token`); resp() an authenticated Resp; api(path, ...) an HTTP request with the
    token; ctl(*args) runs fanoutctl (--token-file) and returns (exit code, stdout, stderr);
    ctl_json(*args) runs fanoutctl --json and parses the reply."""

    def __init__(self, dp_sock, state_dir, poll_ms=100, tag="ctl"):
        # dp_sock None: a fleet fanout-control, whose members come in `extra` (--member ...)
        self.dp_sock = str(dp_sock) if dp_sock is not None else None
        self.state_dir, self.poll_ms = str(state_dir), poll_ms
        os.makedirs(self.state_dir, exist_ok=True)
        self.port, self.http = free_tcp_port(), free_tcp_port()
        self.log_path = os.path.join(self.state_dir, f"{tag}.log")
        self.token_file = os.path.join(self.state_dir, "control.token")
        self.proc = None
        self.extra = []  # more fanout-control options, e.g. ["--http-allow-host", "x"]

    @property
    def token(self):
        return Path(self.token_file).read_text().strip()

    def start(self):
        cmd = [control_bin()] + (["--dataplane", self.dp_sock] if self.dp_sock else []) + ["--state-dir", self.state_dir,
               "--listen", f"127.0.0.1:{self.port}", "--http", f"127.0.0.1:{self.http}",
               "--poll-ms", str(self.poll_ms)] + self.extra
        log("fanout-control: " + " ".join(cmd))
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        wait_until("fanout-control to answer PING", lambda: os.path.exists(self.token_file) and self.call("PING") == "PONG",
                   timeout=10)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        if et is not None and not isinstance(ev, KeyboardInterrupt):
            self.print_log()
        self.stop()
        return False

    def kill(self):
        """SIGKILL: no chance to write anything at exit."""
        self.proc = end_process(self.proc, signal.SIGKILL)

    def stop(self):
        self.proc = end_process(self.proc)

    def print_log(self):
        try:
            print(f"----- fanout-control log ({self.log_path}) -----\n" + Path(self.log_path).read_text()[-6000:])
        except OSError:
            pass

    def resp(self, timeout=10):
        return Resp(("127.0.0.1", self.port), timeout=timeout, token=self.token)

    def call(self, *args):
        with self.resp() as r:
            return r.call(*args)

    def json(self, *args):
        return json.loads(self.call(*args))

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.http}/{path.lstrip('/')}"

    def api(self, path, method="GET", body=None, headers=None, token=True, timeout=10):
        """(status, body text) of an HTTP request; body: bytes as they are, else JSON with
        Content-Type application/json; token=False sends no Authorization."""
        h = {}
        if token:
            h["Authorization"] = "Bearer " + (self.token if token is True else token)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            if not isinstance(body, bytes):
                h["Content-Type"] = "application/json"
        h.update(headers or {})
        req = urllib.request.Request(self.url(path), data=data, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, timeout=scaled(timeout)) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def api_json(self, path, **kw):
        code, text = self.api(path, **kw)
        check(code == 200, f"{kw.get('method', 'GET')} {path}: HTTP {code}: {text[:300]}")
        return json.loads(text)

    def ctl(self, *args, timeout=30):
        cmd = [fanoutctl_bin(), "--token-file", self.token_file, "-h", "127.0.0.1", "-p", str(self.port)] + [
            str(a) for a in args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(timeout))
        return r.returncode, r.stdout, r.stderr

    def ctl_ok(self, *args):
        rc, out, err = self.ctl(*args)
        check(rc == 0, f"fanoutctl {' '.join(map(str, args))} exited {rc}: {out}{err}")
        return out

    def ctl_json(self, *args):
        return json.loads(self.ctl_ok("--json", *args))

    def rollout(self):
        return self.json("ROLLOUT", "STATUS")


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class Collector:
    """UDP sinks in the lab namespace standing for route destinations: one socket per port, a thread
    recording (port, arrival time, payload) for every datagram. The arrival time is the kernel's
    (SO_TIMESTAMPNS, CLOCK_REALTIME) converted to CLOCK_MONOTONIC seconds, so a starved Python thread
    cannot make a copy look late."""

    def __init__(self, lab, ports, bind_ip=None):
        self.socks = {p: lab.udp_socket(bind_ip or lab.client_ip, p, timeout=0.2) for p in ports}
        for s in self.socks.values():
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.got = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(p, s), daemon=True) for p, s in self.socks.items()]
        for t in self.threads:
            t.start()

    @staticmethod
    def _real_to_mono():
        a = time.monotonic_ns()
        r = time.time_ns()
        b = time.monotonic_ns()
        return r - (a + b) // 2

    def _run(self, port, s):
        off = self._real_to_mono()
        n = 0
        while not self.stop_ev.is_set():
            try:
                data, anc, _, _ = s.recvmsg(65535, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic_ns()
            t = now
            for level, kind, cd in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(cd) >= 16:
                    sec, nsec = struct.unpack("qq", cd[:16])
                    t = sec * 1_000_000_000 + nsec - off
            n += 1
            if n % 256 == 0:
                off = self._real_to_mono()
            with self.lock:
                self.got.append((port, min(t, now) / 1e9, data))

    def snapshot(self):
        with self.lock:
            return list(self.got)

    def publishers(self, port):
        """Loadgen publisher indexes with a copy at `port` so far."""
        return {k[0] for p, _, data in self.snapshot() if p == port and (k := loadgen_payload(data))}

    def wait_quiet(self, quiet=0.3, timeout=10):
        """Once the traffic has ended: until nothing has arrived for `quiet` s, so the copies still in
        flight have landed."""
        def still():
            with self.lock:
                last = self.got[-1][1] if self.got else 0.0
            return time.monotonic() - last >= quiet
        wait_until("the collectors to fall quiet", still, timeout=timeout, step=0.05)

    def close(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=2)
        for s in self.socks.values():
            s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def loadgen_payload(data):
    """(publisher index, sequence) from a fanout-loadgen payload header, or None."""
    if len(data) < 16 or (data[0] >> 3) != 0x1A:
        return None
    pub = ((data[2] << 8) | data[3]) & 0x7FFF
    seq = struct.unpack("!I", data[4:8])[0]
    return pub, seq


def loadgen_bg(lab, args):
    """fanout-loadgen in the background (JSON report on stdout): returns the Popen."""
    cmd = ["ip", "netns", "exec", lab.ns, loadgen_bin(), "--gateway", lab.appliance_ip] + [str(a) for a in args] + \
          ["--json", "-"]
    log("loadgen (background): " + " ".join(cmd[4:]))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def loadgen_wait(p, timeout=120):
    try:
        out, err = p.communicate(timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise TestFailure(f"loadgen did not finish within {scaled(timeout):.0f} s")
    sys.stdout.write(err)
    try:
        return json.loads(out), p.returncode
    except ValueError:
        raise TestFailure(f"loadgen exited {p.returncode} without a JSON report: {out[:2000]!r}")


# ---------------------------------------------------------------------------------------------
# Redis (the sink's real server)

class RedisCluster:
    """A Redis Cluster of Debian's redis-server: `primaries` primaries with `replicas` replicas each on
    free loopback ports (cluster-node-timeout node_timeout_ms, so a killed primary's replica takes over
    in a few seconds), created with `redis-cli --cluster create --cluster-replicas N`; no persistence."""

    def __init__(self, tag, primaries=3, replicas=1, node_timeout_ms=1000):
        self.dir = workdir(f"rcluster-{tag}")
        self.n = primaries * (1 + replicas)
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.ports = []
        while len(self.ports) < self.n:  # a cluster node also listens on port + 10000
            p = free_tcp_port()
            if p + 10000 < 65536 and p not in self.ports:
                self.ports.append(p)
        self.procs = {}

    def start_node(self, port):
        d = os.path.join(self.dir, str(port))
        os.makedirs(d, exist_ok=True)
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
               "--cluster-config-file", os.path.join(d, "nodes.conf"), "--cluster-node-timeout",
               str(self.node_timeout_ms), "--save", "", "--appendonly", "no", "--dir", d,
               "--logfile", os.path.join(d, "redis.log")]
        self.procs[port] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(f"cluster node {port} answers PING", lambda: self.cli(port, "PING") == "PONG", timeout=10)

    def cli(self, port, *args):
        r = subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args], capture_output=True,
                           timeout=scaled(30))
        return r.stdout.decode(errors="replace").strip()

    def info(self, port):
        return dict(line.split(":", 1) for line in self.cli(port, "CLUSTER", "INFO").splitlines() if ":" in line)

    def live(self):
        return [p for p, pr in self.procs.items() if pr and pr.poll() is None]

    def slots(self, port=None):
        """{slot range start: (end, primary port, [replica ports])} from CLUSTER SLOTS of a live node."""
        with Resp(("127.0.0.1", port or self.live()[0])) as r:
            return {int(e[0]): (int(e[1]), int(e[2][1]), [int(x[1]) for x in e[3:]]) for e in r.call("CLUSTER", "SLOTS")}

    def owner(self, slot, port=None):
        for start, (end, prim, _) in self.slots(port).items():
            if start <= slot <= end:
                return prim
        return None

    def keyslot(self, key):
        return int(self.cli(self.live()[0], "CLUSTER", "KEYSLOT", key))

    def healthy(self):
        """Every live node says cluster_state:ok and they agree on the primaries of all 16384 slots."""
        views = []
        for p in self.live():
            if self.info(p).get("cluster_state") != "ok":
                return False
            try:
                views.append(sorted((s, e, prim) for s, (e, prim, _) in self.slots(p).items()))
            except (OSError, RespError):
                return False
        return all(v == views[0] for v in views) and sum(e - s + 1 for s, e, _ in views[0]) == 16384

    def xrange(self, key):
        """[(id, {field: bytes})] of a whole stream, read from the primary that serves its slot."""
        port = self.owner(self.keyslot(key))
        with Resp(("127.0.0.1", port), raw=True) as r:
            return [(eid.decode(), {f[i].decode(): f[i + 1] for i in range(0, len(f), 2)})
                    for eid, f in r.call("XRANGE", key, "-", "+")]

    def kill(self, port):
        self.procs[port] = end_process(self.procs[port], signal.SIGKILL)

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        for p in self.ports:
            self.start_node(p)
        r = subprocess.run(["redis-cli", "--cluster", "create"] + [f"127.0.0.1:{p}" for p in self.ports] +
                           ["--cluster-replicas", str(self.replicas), "--cluster-yes"], capture_output=True, timeout=scaled(60))
        if r.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create: {r.stdout.decode()[-400:]} {r.stderr.decode()[-400:]}")
        wait_until("the cluster agrees on its slots", self.healthy, timeout=30, step=0.2)
        return self

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc):
        for p in list(self.procs):
            self.kill(p)
        remove_workdir(self.dir)


class RedisServer:
    """Debian's redis-server on a free loopback port (and a unix socket) in its own directory, no
    persistence. users: {name: password} become ACL users with every right; requirepass sets the
    default user's password. kill() is SIGKILL (a crash); start() again reuses port and socket."""

    def __init__(self, tag, users=None, requirepass=None):
        self.dir = workdir(f"redis-{tag}")
        self.port = free_tcp_port()
        self.sock = os.path.join(self.dir, "redis.sock")
        self.users = users or {}
        self.requirepass = requirepass
        self.proc = None

    def start(self):
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--unixsocket", self.sock,
               "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", self.dir,
               "--logfile", os.path.join(self.dir, "redis.log"), "--enable-debug-command", "local"]
        if self.requirepass:
            cmd += ["--requirepass", self.requirepass]
        for u, pw in self.users.items():
            cmd += ["--user", u, "on", f">{pw}", "~*", "&*", "+@all"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until("redis-server answers PING", lambda: self.cli("PING") == "PONG", timeout=10)
        return self

    def cli(self, *args, raw=False):
        """redis-cli as the first ACL user (or the default user) -> stdout stripped."""
        cmd = ["redis-cli", "-p", str(self.port), "--no-auth-warning"]
        if self.users:
            u, pw = next(iter(self.users.items()))
            cmd += ["--user", u, "--pass", pw]
        elif self.requirepass:
            cmd += ["-a", self.requirepass]
        if raw:
            cmd.append("--raw")
        r = subprocess.run(cmd + [str(a) for a in args], capture_output=True, timeout=scaled(30))
        return r.stdout.decode(errors="replace").strip()

    def xrange(self, key):
        """[(id, {field: bytes})] of a whole stream, through a RESP connection of our own."""
        with Resp(("127.0.0.1", self.port), raw=True) as r:
            if self.users:
                u, pw = next(iter(self.users.items()))
                r.call("AUTH", u, pw)
            elif self.requirepass:
                r.call("AUTH", self.requirepass)
            return [(eid.decode(), {f[i].decode(): f[i + 1] for i in range(0, len(f), 2)})
                    for eid, f in r.call("XRANGE", key, "-", "+")]

    def asleep(self, probe=0.2):
        """True while the server leaves a PING unanswered for `probe` s: a DEBUG SLEEP has begun.
        (Any reply counts, -NOAUTH included: it is the server's responsiveness that is asked.)"""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=scaled(5)) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                s.settimeout(probe)
                return not s.recv(64)
        except socket.timeout:
            return True

    def kill(self):
        self.proc = end_process(self.proc, signal.SIGKILL)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        remove_workdir(self.dir)


