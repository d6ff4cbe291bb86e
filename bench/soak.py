#!/usr/bin/python3
"""Soak: hours of mixed legitimate traffic with rollouts, Redis and broker restarts and a trickle of
hostile traffic; reports memory growth per process, counter balance and latency drift over time.

  bench/soak.py --build-dir build [--duration 3600] [--cycle 60] [--out soak-results] [--hostile-pps 50]

Bounded: it stops after --duration seconds (default one hour; not part of CI). Everything runs on this
machine: a lab (network namespace, deploy/lab.sh), its own redis-server and mosquitto on loopback ports,
fanout-dataplane (-l 0,1 --no-pci --no-huge) with a Redis Streams sink, an MQTT bridge and a UDP route, and
fanout-control driving rollouts with fanoutctl. Each cycle of --cycle seconds:
  - fanout-loadgen runs QoS 1 (4 publishers, 2 subscribers, 100 msg/s each) and QoS 0 (2 publishers,
    2 subscribers, 200 msg/s each) traffic through the dataplane (QoS 1 must lose nothing);
  - a rollout of a new routing generation (fanoutctl config apply + rollout start --steps 25,100); every
    other cycle it is rolled back instead of promoted;
  - every third cycle redis-server is killed (SIGKILL) and restarted, every fourth mosquitto;
  - a hostile trickle (--hostile-pps): forged CONNECTs from many addresses, DISCONNECTs from strangers,
    malformed datagrams, a REGISTER flood past the quota;
  - at the cycle's end: RSS of every process (/proc/PID/status VmRSS), the dataplane's counters
    (rx == delivered + answered + frag_merged + dropped + in flight; out generated == sent + dropped + in flight),
    loadgen loss and latency (p50, p99).
Prints a table per cycle and a summary (RSS growth per process from the first to the last cycle and
per hour, P99 drift, totals) and writes OUT/soak.json. Exit status 0 when nothing was lost at QoS 1, the
counters balanced every cycle and no process grew by more than --max-growth-mib over the run."""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "test" / "e2e"))
import harness  # noqa: E402
from harness import (Control, Dataplane, Lab, RawClient, RawSender, RedisServer, end_process,  # noqa: E402
                     free_tcp_port, lab_config, loadgen_bg, loadgen_wait, log, m_connect, m_disconnect,
                     m_register, wait_until, workdir)



class Broker:
    """Debian's mosquitto on one loopback port, persistence off."""

    def __init__(self):
        self.dir = workdir("soak-mosq")
        self.port = free_tcp_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        Path(self.conf).write_text(f"user root\nlistener {self.port} 127.0.0.1\nallow_anonymous true\n"
                                   "max_queued_messages 100000\n")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until("mosquitto to accept connections", lambda: subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", "soak/ready", "-m", "x"],
            capture_output=True, timeout=10).returncode == 0, timeout=10)
        return self

    def kill(self):
        self.proc = end_process(self.proc, signal.SIGKILL)


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class Hostile:
    """A trickle of hostile traffic for one cycle (bounded by the cycle's length)."""

    def __init__(self, lab, pps, seconds, counts):
        self.lab, self.pps, self.seconds, self.counts = lab, pps, seconds, counts
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        lab = self.lab
        net = lab.appliance_ip.rsplit(".", 1)[0]
        rnd = random.Random()
        raw = RawSender(lab)
        flood = RawClient(lab, lab.client_ips[1])
        stranger = lab.udp_socket(lab.client_ips[1], 0)
        try:
            # The first answer to a lab address the appliance has not resolved yet is lost while it
            # asks for the MAC (no_neighbour): try again for a few seconds.
            for attempt in range(5):
                try:
                    flood.connect(f"soak-flood-{rnd.randrange(1 << 30)}")
                    break
                except harness.TestFailure:
                    if attempt == 4:
                        raise
            t_end = time.monotonic() + self.seconds
            i = 0
            while time.monotonic() < t_end:
                k = i % 4
                if k == 0:
                    raw.send(f"{net}.{100 + rnd.randrange(150)}", 1024 + rnd.randrange(60000),
                             m_connect(f"forged{i}", 60))
                elif k == 1:
                    stranger.sendto(m_disconnect(), (lab.appliance_ip, 1883))
                elif k == 2:
                    stranger.sendto(bytes([rnd.randrange(256) for _ in range(rnd.randrange(1, 24))]),
                                    (lab.appliance_ip, 1883))
                else:
                    flood.send(m_register(f"soak/flood/{i}", i % 65535 + 1))
                self.counts[k] = self.counts.get(k, 0) + 1
                i += 1
                time.sleep(1.0 / max(1, self.pps))
        finally:
            raw.close()
            flood.close()
            stranger.close()


def loadgen_args(seconds, tag, qos):
    if qos == 1:
        return ["-p", 4, "-s", 2, "--topic", "soak/q1/{pub}", "--filter", "soak/q1/#", "--qos", 1, "--sub-qos", 1,
                "--rate", 100, "--duration", seconds, "--drain-ms", 2000, "--id-prefix", tag, "--quiet"]
    return ["-p", 2, "-s", 2, "--topic", "soak/q0/{pub}", "--filter", "soak/q0/#", "--qos", 0, "--rate", 200,
            "--duration", seconds, "--drain-ms", 1000, "--id-prefix", tag, "--quiet"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--duration", type=int, default=3600, help="seconds in all (default 3600)")
    ap.add_argument("--cycle", type=int, default=60, help="seconds per cycle (default 60, at least 20)")
    ap.add_argument("--hostile-pps", type=int, default=50)
    ap.add_argument("--max-growth-mib", type=float, default=64.0)
    ap.add_argument("--out", default="soak-results")
    args = ap.parse_args()
    args.cycle = max(20, args.cycle)
    harness.ARGS = argparse.Namespace(build_dir=str(Path(args.build_dir).resolve()), pmd="af_packet", keep=False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        sys.exit("soak: must run as root (network namespaces, DPDK)")
    rows, problems = [], []
    t_start = time.monotonic()
    hostile_counts = {}
    with Lab("soak", clients=2) as lab, RedisServer("soak") as redis:
        broker = Broker().start()
        try:
            sock = str(Path(workdir("soak-ctl")) / "dp.sock")
            overrides = {
                "security.sessions_per_source": 64,
                "sinks": [{"name": "rd", "redis": f"127.0.0.1:{redis.port}", "maxlen": 100000}],
                "bridges": [{"name": "up", "host": "127.0.0.1", "port": broker.port}],
                "routes": [{"name": "stream", "filter": "soak/#", "sink": "rd", "stream": "soak:{topic}"},
                           {"name": "upstream", "filter": "soak/q1/#", "bridge": "up"},
                           {"name": "collect", "filter": "soak/q0/#", "to": [f"{lab.client_ip}:9000"]}],
            }
            text = lab_config(f"{lab.appliance_ip}/24", lab.vdev().split(",")[0], overrides)
            with Dataplane("soak", lab, config_text=text, extra_app=["--control", sock]) as dp, \
                    Control(sock, Path(dp.dir) / "control") as ctl:
                canary_paths = []
                for k, port in enumerate((9001, 9000)):
                    p = Path(dp.dir) / f"canary{k}.yaml"
                    p.write_text(Path(dp.config_path).read_text().replace(f"{lab.client_ip}:9000",
                                                                          f"{lab.client_ip}:{port}"))
                    canary_paths.append(p)
                cycle = 0
                while time.monotonic() - t_start + args.cycle <= args.duration + 1:
                    c0 = time.monotonic()
                    run_s = args.cycle - 8
                    lg1 = loadgen_bg(lab, loadgen_args(run_s, f"s{cycle}a", 1))
                    lg0 = loadgen_bg(lab, loadgen_args(run_s, f"s{cycle}b", 0))
                    hostile = Hostile(lab, args.hostile_pps, run_s, hostile_counts)
                    hostile.thread.start()
                    # a rollout: promoted on even cycles, rolled back on odd ones
                    time.sleep(3)
                    ctl.ctl_ok("config", "apply", canary_paths[cycle % 2])
                    ctl.ctl_ok("rollout", "start", "--steps", "25,100", "--hold", "2s", "--gate", "drop_rate<0.05",
                               *(["--no-auto"] if cycle % 2 else []))
                    if cycle % 2:
                        time.sleep(2)
                        ctl.ctl_ok("rollout", "rollback")
                    ro = wait_until("the rollout to end", lambda: (lambda s: s if s["state"] in (
                        "promoted", "rolled_back", "aborted") else None)(ctl.rollout()), timeout=60, step=0.5)
                    if cycle % 3 == 1:
                        redis.kill()
                        time.sleep(2)
                        redis.start()
                    if cycle % 4 == 2:
                        broker.kill()
                        time.sleep(2)
                        broker.start()
                    r1, rc1 = loadgen_wait(lg1, timeout=run_s + 60)
                    r0, _ = loadgen_wait(lg0, timeout=run_s + 60)
                    hostile.thread.join(run_s + 10)
                    s = dp.snapshot()
                    t, o = s["totals"], s["totals"]["out"]
                    balanced = t["balanced"] and o["balanced"]
                    row = {
                        "cycle": cycle, "t_s": round(time.monotonic() - t_start, 1), "rollout": ro["state"],
                        "qos1_lost": r1["deliver"]["lost_msgs"], "qos1_expected": r1["deliver"]["expected_msgs"],
                        "qos1_p50_us": r1["latency_us"]["p50"], "qos1_p99_us": r1["latency_us"]["p99"],
                        "qos0_lost": r0["deliver"]["lost_msgs"], "qos0_expected": r0["deliver"]["expected_msgs"],
                        "qos0_p99_us": r0["latency_us"]["p99"], "rx": t["rx"], "balanced": balanced,
                        "drops": {k: v for k, v in t["drops"].items() if v},
                        "rss_kib": {"dataplane": rss_kib(dp.proc.pid), "fanout-control": rss_kib(ctl.proc.pid),
                                    "redis-server": rss_kib(redis.proc.pid), "mosquitto": rss_kib(broker.proc.pid)},
                    }
                    rows.append(row)
                    log(f"cycle {cycle:3d} t={row['t_s']:7.1f}s rollout {ro['state']:<11} QoS1 lost "
                        f"{row['qos1_lost']}/{row['qos1_expected']} p99 {row['qos1_p99_us']:.0f} us; QoS0 lost "
                        f"{row['qos0_lost']}/{row['qos0_expected']}; rx {t['rx']} {'balanced' if balanced else 'UNBALANCED'};"
                        f" RSS MiB " + ", ".join(f"{k} {v / 1024:.1f}" for k, v in row["rss_kib"].items() if v))
                    if rc1 != 0 or row["qos1_lost"]:
                        problems.append(f"cycle {cycle}: QoS 1 lost {row['qos1_lost']} ({r1['result']['verdict']})")
                    if not balanced:
                        problems.append(f"cycle {cycle}: counters unbalanced")
                    cycle += 1
                    left = args.cycle - (time.monotonic() - c0)
                    if left > 0:
                        time.sleep(left)
                final = dp.stop()
                if not (final["totals"]["balanced"] and final["totals"]["out"]["balanced"]):
                    problems.append("final snapshot unbalanced")
        finally:
            broker.kill()
    hours = (time.monotonic() - t_start) / 3600
    summary = {"command": " ".join(sys.argv), "duration_s": round(hours * 3600), "cycles": len(rows),
               "hostile_sent": {["forged_connect", "stranger_disconnect", "malformed", "register_flood"][k]: v
                                for k, v in sorted(hostile_counts.items())}}
    if len(rows) >= 2:
        first, last = rows[min(1, len(rows) - 1)], rows[-1]  # cycle 0 includes the warm-up
        growth = {}
        for k in last["rss_kib"]:
            a, b = first["rss_kib"].get(k), last["rss_kib"].get(k)
            if a and b:
                span_h = max((last["t_s"] - first["t_s"]) / 3600, 1e-9)
                growth[k] = {"first_mib": round(a / 1024, 1), "last_mib": round(b / 1024, 1),
                             "growth_mib": round((b - a) / 1024, 2), "per_hour_mib": round((b - a) / 1024 / span_h, 2)}
                if k in ("dataplane", "fanout-control") and (b - a) / 1024 > args.max_growth_mib:
                    problems.append(f"{k} grew {(b - a) / 1024:.1f} MiB")
        p99 = [r["qos1_p99_us"] for r in rows]
        q = max(1, len(p99) // 4)
        summary.update({
            "rss": growth,
            "qos1_p99_us_first_quarter_median": sorted(p99[:q])[q // 2],
            "qos1_p99_us_last_quarter_median": sorted(p99[-q:])[q // 2],
            "qos1_lost_total": sum(r["qos1_lost"] for r in rows),
            "qos1_expected_total": sum(r["qos1_expected"] for r in rows),
            "qos0_lost_total": sum(r["qos0_lost"] for r in rows),
            "qos0_expected_total": sum(r["qos0_expected"] for r in rows),
            "rollouts": {s: sum(1 for r in rows if r["rollout"] == s) for s in {r["rollout"] for r in rows}},
            "all_cycles_balanced": all(r["balanced"] for r in rows),
        })
    summary["problems"] = problems
    (out / "soak.json").write_text(json.dumps({"summary": summary, "cycles": rows}, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    print(f"soak: {'PASS' if not problems else 'FAIL: ' + '; '.join(problems)} ({out / 'soak.json'})")
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    main()
