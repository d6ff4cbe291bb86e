#!/usr/bin/env python3
"""The dashboard (control/daemon/dashboard.html, served by fanout-control at GET /) in headless Chromium, and
fanoutctl against the same fanout-control, with the real dataplane on the lab and fanout-loadgen traffic.

1. fanout-control with no dataplane: the page says "dataplane down", no chart invents points, the rollout is
   idle; `fanoutctl status` exits 4 and `fanoutctl -p <closed port> status` exits 3.
2. The dataplane starts (fanout-loadgen QoS 0 traffic, and packets it drops under named reasons: UDP to a port
   nobody listens on, malformed MQTT-SN); `fanoutctl config apply` and `fanoutctl rollout start` (steps 5,50, 2 s holds):
   once at step 2, `fanoutctl rollout pause`; the page shows the dataplane up, the rate, drops-by-reason, p99 and
   share charts with points, the rollout paused at step 2/2 and its history; `fanoutctl stats`/`top --count 2` print figures with units.
3. `fanoutctl rollout rollback` prints the time it took; the page then shows rolled_back at 0 %.
A screenshot of the live dashboard goes to BUILD/dashboard.png."""
import html.parser
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Control, Dataplane, Lab, Periodic, check, check_conservation, client_addr_hash,  # noqa: E402
                     fanoutctl_bin, free_tcp_port, loadgen_bg, loadgen_wait, log, run_test, scaled, wait_until)


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
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(90))
    check(r.returncode == 0, f"chromium exited {r.returncode}: {r.stderr[-800:]}")
    return r.stdout


def dump_dom(url, tmp, budget_ms=4000):
    d = Dom()
    d.feed(chromium(url, tmp, ["--dump-dom"], budget_ms))
    check("chart-rate" in d.el, "the page has no #chart-rate: is GET / the dashboard?")
    return d


def main(args):
    build = Path(args.build_dir).resolve()
    check(shutil.which("chromium"), "chromium is not installed (apt-get install chromium)")
    with Lab("dashboard") as lab:
        tmp = tempfile.mkdtemp(prefix="fo-dash-")
        dp_sock = f"{tmp}/dp.sock"
        with Control(dp_sock, f"{tmp}/state") as ctl:
            url = ctl.ctl_ok("dashboard").strip()  # the token rides in the #fragment, never sent to the server
            check(url == f"http://127.0.0.1:{ctl.http}/#token={ctl.token}", f"fanoutctl dashboard printed {url!r}")

            def fanoutctl(*a, expect=0):
                rc, out, err = ctl.ctl(*a)
                check(rc == expect, f"fanoutctl {' '.join(a)} exited {rc}, expected {expect}:\n{out}{err}")
                return out + err

            def api(path):
                return ctl.api_json(path, timeout=5)

            wait_until("fanout-control's HTTP port", lambda: api("/api/status"))

            # 1. no dataplane yet
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
            r = subprocess.run([fanoutctl_bin(), "-p", str(free_tcp_port()), "status"], capture_output=True,
                               text=True, timeout=10)
            check(r.returncode == 3 and "not reachable" in r.stderr, f"closed port: exit {r.returncode}: {r.stderr}")

            # 2. the dataplane starts; traffic, some bad packets, a rollout
            log("phase 2: the dataplane, traffic, config apply, rollout start")
            ov = {"routes": [{"name": "collect", "filter": "da/#", "to": [f"{lab.client_ip}:9000"]}]}
            # The bad packets come from a client address and port the split keeps on stable at every
            # step (share below 50 %): sessionless packets go by the address hash, and from a canary
            # address they would make the canary's drop_rate 1 and its gate roll the rollout back.
            bad_port = next(p for p in range(20000, 30000) if client_addr_hash(lab.client_ip, p) % 10000 >= 5000)
            with Dataplane("dash", lab, overrides=ov, extra_app=["--control", dp_sock]) as dp, \
                    lab.udp_socket(port=bad_port) as bad:
                wait_until("fanout-control to connect to the dataplane", lambda: api("/api/status")["dataplane"]["up"])
                # The traffic lasts until the test ends it (SIGTERM), not for a fixed time: a loadgen
                # that stopped early on a slow build left only the bad packets below, and the
                # drop_rate gate then rolled the rollout back before its second step.
                lg = loadgen_bg(lab, ["-p", 4, "-s", 2, "--topic", "da/{pub}", "--filter", "da/#", "--qos", 0,
                                      "--rate", 300, "--duration", 3600, "--id-prefix", "da"])

                def send_bad():  # named drops for the drops chart: no listener, malformed MQTT-SN
                    bad.sendto(b"x", (lab.appliance_ip, 9999))
                    bad.sendto(b"\x02\xff", (lab.appliance_ip, 1883))
                try:
                    with Periodic("bad packets", send_bad, 0.05) as bad_sender:
                        rollout_with_traffic(lab, dp, ctl, url, tmp, build, fanoutctl, api, bad_sender)
                finally:
                    lg.terminate()  # the loadgen ends its send phase on SIGTERM and reports
                rep, _ = loadgen_wait(lg)
                check(rep["publish"]["sent_msgs"] > 0, f"loadgen sent nothing: {rep['result']['verdict']}")
                final = dp.stop()
            check_conservation(final)
        shutil.rmtree(tmp, ignore_errors=True)


def rollout_with_traffic(lab, dp, ctl, url, tmp, build, fanoutctl, api, bad_sender):
    """Phases 2 and 3, while the loadgen and the bad packets run."""
    wait_until("10 series points", lambda: len(api("/api/series")["points"]) >= 10)
    canary = Path(tmp) / "canary.yaml"
    canary.write_text(Path(dp.config_path).read_text().replace(f"{lab.client_ip}:9000",
                                                                 f"{lab.client_ip}:9001"))
    out = fanoutctl("config", "apply", str(canary))
    check("loaded as canary" in out, f"config apply:\n{out}")
    out = fanoutctl("rollout", "start", "--steps", "5,50", "--hold", "2s", "--gate", "drop_rate<0.5")
    check("running" in out and "5 %" in out, f"rollout start:\n{out}")
    ro = wait_until("the rollout's second step (or its end)",
                    lambda: (lambda r: r if r.get("step", 0) >= 1 or r.get("state") != "running" else None)(
                        api("/api/rollout")), timeout=30)
    check(ro.get("state") == "running", f"the rollout ended before its second step: {ro}")
    bad_sender.check()
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
    check(reasons & {"udp_no_listener", "mqttsn_malformed"},
          f"drops chart has no per-reason series: {d.attr('chart-drops', 'data-series')}")
    check("canary" in d.attr("chart-p99", "data-series") or "stable" in d.attr("chart-p99", "data-series"),
          f"p99 chart has no generation: {d.attr('chart-p99', 'data-series')}")
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
    for unit in ("pkt/s", "msg/s", "%"):
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
    check(ctl.proc.poll() is None, "fanout-control exited")


if __name__ == "__main__":
    run_test(main, __doc__)
