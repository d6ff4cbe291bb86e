#!/usr/bin/env python3
"""The dashboard (control/dashboard.html, served by fanout-control at GET /) in headless Chromium, and
fanoutctl against the same fanout-control. No DPDK: the dataplane is test/e2e/fake_dataplane.py, a stand-in
for its control socket with synthetic traffic.

1. fanout-control with no dataplane: the page says "dataplane down", no chart invents points, the rollout is
   idle; `fanoutctl status` exits 4 and `fanoutctl -p <closed port> status` exits 3.
2. The fake dataplane appears; `fanoutctl config apply` and `fanoutctl rollout start` (steps 5,50, 2 s holds):
   once at step 2, `fanoutctl rollout pause`; the page shows the dataplane up, the rate, drops-by-reason, p99 and
   share charts with points, the rollout paused at step 2/2 and its history; `fanoutctl stats`/`top --count 2` print figures with units.
3. `fanoutctl rollout rollback` prints the time it took; the page then shows rolled_back at 0 %.
A screenshot of the live dashboard goes to BUILD/dashboard.png."""
import argparse
import html.parser
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
NAME = "test_dashboard"


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def log(msg):
    print(f"  {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, fn, timeout=15.0, step=0.1):
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the timeout
            last = e
        time.sleep(step)
    raise Fail(f"timed out after {timeout:.0f} s waiting for {what}" + (f" ({last})" if last else ""))


class Dom(html.parser.HTMLParser):
    """Elements with an id: their attributes and text (enough for the markers the page sets)."""

    def __init__(self):
        super().__init__()
        self.el, self.stack = {}, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("br", "img", "meta", "input", "link"):
            return
        self.stack.append(a.get("id"))
        if a.get("id"):
            self.el[a["id"]] = {"attrs": a, "text": ""}
        if tag == "body":
            self.el["body"] = {"attrs": a, "text": ""}

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for i in self.stack:
            if i in self.el:
                self.el[i]["text"] += data

    def text(self, i):
        return self.el.get(i, {}).get("text", "").strip()

    def attr(self, i, a):
        return self.el.get(i, {}).get("attrs", {}).get(a)

    def points(self, i):
        return int(self.attr(i, "data-points") or -1)


def chromium(url, tmp, extra, budget_ms=4000):
    cmd = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
           f"--user-data-dir={tmp}/chrome", f"--virtual-time-budget={budget_ms}", *extra, url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    check(r.returncode == 0, f"chromium exited {r.returncode}: {r.stderr[-800:]}")
    return r.stdout


def dump_dom(url, tmp, budget_ms=4000):
    d = Dom()
    d.feed(chromium(url, tmp, ["--dump-dom"], budget_ms))
    check("chart-rate" in d.el, "the page has no #chart-rate: is GET / the dashboard?")
    return d


class Proc:
    def __init__(self, name, cmd, tmp):
        self.name = name
        self.logf = open(Path(tmp) / f"{name}.log", "w")
        self.p = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.logf.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(HERE.parent.parent / "build"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    build = Path(args.build_dir).resolve()
    control, ctl = build / "control" / "fanout-control", build / "control" / "fanoutctl"
    for exe in (control, ctl):
        if not os.access(exe, os.X_OK):
            print(f"{NAME}: FAIL: {exe} is missing; build first (ninja -C {build})", flush=True)
            return 1
    if not shutil.which("chromium"):
        print(f"{NAME}: FAIL: chromium is not installed (apt-get install chromium)", flush=True)
        return 1

    tmp = tempfile.mkdtemp(prefix="fo-dash-")
    procs = []
    t0 = time.monotonic()
    try:
        resp_port, http_port = free_port(), free_port()
        dp_sock = f"{tmp}/dp.sock"
        url = f"http://127.0.0.1:{http_port}/"
        env = dict(os.environ, FANOUT_CONTROL=f"127.0.0.1:{resp_port}")

        def fanoutctl(*a, expect=0):
            r = subprocess.run([str(ctl), *a], capture_output=True, text=True, env=env, timeout=30)
            check(r.returncode == expect, f"fanoutctl {' '.join(a)} exited {r.returncode}, expected {expect}:\n"
                                          f"{r.stdout}{r.stderr}")
            return r.stdout + r.stderr

        def api(path):
            with urllib.request.urlopen(url + path.lstrip("/"), timeout=5) as r:
                return json.load(r)

        os.makedirs(f"{tmp}/state", exist_ok=True)
        fc = Proc("fanout-control", [str(control), "--dataplane", dp_sock, "--state-dir", f"{tmp}/state",
                                     "--listen", f"127.0.0.1:{resp_port}", "--http", f"127.0.0.1:{http_port}",
                                     "--poll-ms", "100"], tmp)
        procs.append(fc)
        wait_for("fanout-control's HTTP port", lambda: api("/api/status"))

        # 1. no dataplane
        log("phase 1: fanout-control without a dataplane")
        d = dump_dom(url, tmp, 2500)
        check(d.text("control-state") == "up", f"#control-state '{d.text('control-state')}'")
        check("dataplane down" in d.text("dp-state"), f"#dp-state '{d.text('dp-state')}', expected 'dataplane down'")
        check(d.attr("body", "data-dataplane") == "down", "body data-dataplane is not 'down'")
        for c in ("chart-rate", "chart-drops", "chart-p99", "chart-share"):
            check(d.points(c) == 0, f"#{c} drew {d.points(c)} points with no dataplane")
            check(d.attr(c, "data-empty") == "dataplane down", f"#{c} data-empty '{d.attr(c, 'data-empty')}'")
        check(d.text("rollout-state") == "idle", f"#rollout-state '{d.text('rollout-state')}'")
        out = fanoutctl("status", expect=4)
        check("UNREACHABLE" in out, f"fanoutctl status does not say the dataplane is unreachable:\n{out}")
        out = fanoutctl("sessions", expect=4)
        check("dataplane unreachable" in out, f"fanoutctl sessions: {out}")
        r = subprocess.run([str(ctl), "-p", str(free_port()), "status"], capture_output=True, text=True, timeout=10)
        check(r.returncode == 3 and "not reachable" in r.stderr, f"closed port: exit {r.returncode}: {r.stderr}")

        # 2. the (fake) dataplane appears; a rollout runs
        log("phase 2: fake dataplane, config apply, rollout start")
        procs.append(Proc("fake-dataplane", [sys.executable, str(HERE / "fake_dataplane.py"), "--socket", dp_sock,
                                             "--rate", "2000"], tmp))
        wait_for("fanout-control to connect to the dataplane", lambda: api("/api/status")["dataplane"]["up"])
        wait_for("10 series points", lambda: len(api("/api/series")["points"]) >= 10)
        Path(f"{tmp}/routes.yaml").write_text("routes:\n  - name: temps\n    filter: sensors/+/t\n")
        out = fanoutctl("config", "apply", f"{tmp}/routes.yaml")
        check("loaded as canary" in out, f"config apply:\n{out}")
        out = fanoutctl("rollout", "start", "--steps", "5,50", "--hold", "2s", "--gate", "drop_rate<0.5")
        check("running" in out and "5 %" in out, f"rollout start:\n{out}")
        wait_for("the rollout's second step", lambda: api("/api/rollout").get("step", 0) >= 1, timeout=10)
        out = fanoutctl("rollout", "pause")  # hold step 2 while the page is looked at
        check("paused" in out, f"rollout pause:\n{out}")
        d = dump_dom(url, tmp, 4000)
        check(d.text("dp-state") == "up", f"#dp-state '{d.text('dp-state')}'")
        check(d.attr("body", "data-dataplane") == "up", "body data-dataplane is not 'up'")
        for c in ("chart-rate", "chart-drops", "chart-p99", "chart-share"):
            check(d.points(c) > 0, f"#{c} drew no points with the dataplane up")
            log(f"#{c}: {d.points(c)} points, series {d.attr(c, 'data-series')}")
        check("rx" in d.attr("chart-rate", "data-series") and "deliveries" in d.attr("chart-rate", "data-series"),
              "message-rate chart lacks rx/deliveries")
        reasons = set(d.attr("chart-drops", "data-series").split(",")) - {"all drops"}
        check(reasons & {"eth_not_for_us", "udp_no_listener", "mqttsn_malformed", "worker_ring_full"},
              f"drops chart has no per-reason series: {d.attr('chart-drops', 'data-series')}")
        check("canary" in d.attr("chart-p99", "data-series"), "p99 chart has no canary generation")
        state = d.text("rollout-state")
        check(state == "paused", f"#rollout-state '{state}', expected paused")
        check("%" in d.text("rollout-share") and "/2" in d.text("rollout-step"),
              f"#rollout-share '{d.text('rollout-share')}', #rollout-step '{d.text('rollout-step')}'")
        check(int(d.attr("history", "data-events") or 0) >= 3, "rollout history not shown")
        log(f"rollout {state}, step {d.text('rollout-step')}, share {d.text('rollout-share')}")
        shot = build / "dashboard.png"
        chromium(url, tmp, [f"--screenshot={shot}", "--window-size=1400,1100", "--hide-scrollbars"], 4000)
        check(shot.exists() and shot.stat().st_size > 10000, f"no screenshot at {shot}")
        log(f"screenshot: {shot}")
        out = fanoutctl("stats")
        for unit in ("pkt/s", "msg/s", "µs", "%"):
            check(unit in out, f"fanoutctl stats has no '{unit}':\n{out}")
        out = fanoutctl("top", "--count", "2", "--interval", "500ms")
        check(out.count("fanout top") == 2 and "udp_no_listener" in out, f"fanoutctl top:\n{out}")
        json.loads(fanoutctl("--json", "status"))

        # 3. rollback
        log("phase 3: rollback")
        out = fanoutctl("rollout", "rollback")
        check("rolled back: canary share 0 % in " in out, f"rollout rollback does not say how long it took:\n{out}")
        log(out.splitlines()[0])
        d = dump_dom(url, tmp, 2500)
        check(d.text("rollout-state") == "rolled_back", f"#rollout-state '{d.text('rollout-state')}' after rollback")
        check(d.text("rollout-share") == "0 %", f"#rollout-share '{d.text('rollout-share')}' after rollback")
        check(fc.p.poll() is None, "fanout-control exited")
    except Fail as e:
        print(f"{NAME}: FAIL: {e}  ({time.monotonic() - t0:.1f} s; logs in {tmp})", flush=True)
        args.keep = True
        return 1
    finally:
        for p in reversed(procs):
            p.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{NAME}: PASS  ({time.monotonic() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
