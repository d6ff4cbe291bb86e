#!/usr/bin/env python3
"""Every counter of fanout/stats_schema.h reaches every output, against a running pair.

The entries come from fanout-schema-dump (built from the schema header, so this list cannot drift
from it). One dataplane with a UDP relay route and a Redis Streams sink route, fanout-control
polling it, a little traffic through both routes. Then for each entry:
  1. the dataplane's JSON (control socket STATS: totals, lcores, genstats, routes, outputs) holds it
     under its key, in the object its list names;
  2. DPDK telemetry holds it under its field name (/fanout/stats, /fanout/drops, /fanout/genstats,
     /fanout/routes, /fanout/outputs);
  3. fanout-control's /metrics has its metric (with reason="..." where the schema gives one), and a
     # HELP and # TYPE line for it; GET /api/schema lists it with its unit and description."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Control, Dataplane, Lab, RedisServer, Resp, check, lab_config, loadgen,  # noqa: E402
                     log, run_test, wait_until)



def schema(build_dir):
    exe = Path(build_dir) / "test" / "fanout-schema-dump"
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, f"{exe} exited {r.returncode}: {r.stderr}")
    rows = []
    for line in r.stdout.splitlines():
        f = line.split("\t")
        check(len(f) == 8, f"schema dump line {line!r}")
        rows.append(dict(zip(("family", "list", "name", "key", "unit", "metric", "reason", "help"), f)))
    fams = {r["family"] for r in rows}
    check(fams == {"drop", "out_drop", "event", "xdp", "lcore", "generation", "route", "output"}, f"families {fams}")
    for r in rows:
        check(r["unit"] and r["help"] and r["metric"], f"schema entry without unit/description/metric: {r}")
    return rows


def telemetry(prefix, commands):
    """dpdk-telemetry.py -f PREFIX with commands on stdin: {command: reply}."""
    r = subprocess.run(["dpdk-telemetry.py", "-f", prefix], input="\n".join(commands) + "\n",
                       capture_output=True, text=True, timeout=30)
    out, dec, text, i = {}, json.JSONDecoder(), r.stdout, 0
    while True:
        j = text.find("{", i)
        if j < 0:
            break
        obj, i = dec.raw_decode(text, j)
        out.update(obj)
    for c in commands:
        check(c.split(",")[0] in out, f"dpdk-telemetry.py gave no {c}: {r.stdout[-500:]} {r.stderr[-500:]}")
    return {c: out[c.split(",")[0]] for c in commands}


def metrics(ctl):
    code, text = ctl.api("/metrics")
    check(code == 200, f"GET /metrics: {code}")
    series, helps, types = set(), set(), set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            types.add(line.split()[2])
        elif line:
            m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)', line)
            check(m is not None, f"/metrics: malformed line {line!r}")
            reason = re.search(r'(?:reason|event)="((?:[^"\\]|\\.)*)"', m.group(3) or "")
            series.add((m.group(1), reason.group(1) if reason else ""))
    return series, helps, types


def main(args):
    rows = schema(args.build_dir)
    log(f"schema: {len(rows)} entries in {len({r['family'] for r in rows})} families")
    with Lab("schema") as lb, RedisServer("sc") as redis:
        sock = Path(f"/tmp/fo-e2e-sc-{os.getpid()}.sock")
        overrides = {
            "sinks": [{"name": "rd", "redis": f"127.0.0.1:{redis.port}", "ring": 256, "batch": 16, "batch_us": 200}],
            "routes": [{"name": "relay", "filter": "sc/#", "to": [f"{lb.addr(2)}:9000"]},
                       {"name": "store", "filter": "sc/#", "sink": "rd", "stream": "sc:{topic}"}],
        }
        text = lab_config(f"{lb.appliance_ip}/24", lb.vdev().split(",")[0], overrides)
        with Dataplane("sc", lb, config_text=text, extra_app=["--control", str(sock)]) as dp, \
                Control(sock, Path(dp.dir) / "control") as ctl:
            wait_until("the sink connected", lambda: any(o["connected"] for o in ctl.json("OUTPUTS")["sinks"]),
                       timeout=10)
            rep, rc = loadgen(lb, ["-p", 2, "-s", 1, "--topic", "sc/{pub}", "--filter", "sc/#", "--qos", 0,
                               "--rate", 200, "--duration", 1, "--id-prefix", "sc"])
            check(rc == 0, f"loadgen: {rep['result']['verdict']}")

            # 1. the dataplane's JSON
            with Resp(sock) as c:
                snap = json.loads(c.call("STATS"))
            totals, out = snap["totals"], snap["totals"]["out"]
            gens = snap["genstats"]["generations"]
            check(len(gens) >= 1, "STATS genstats has no generation")
            g = gens[0]
            routes = {r["name"]: r for r in snap["routes"]["stable"]}
            check(set(routes) == {"relay", "store"}, f"STATS routes {set(routes)}")
            check(routes["relay"]["matched"] > 0 and routes["store"]["matched"] > 0, f"no traffic matched: {routes}")
            sink = snap["outputs"]["sinks"][0]
            where = {
                "drop": [totals["drops"]], "out_drop": [out["drops"]], "event": [totals["events"]], "xdp": [totals["xdp"]],
                "lcore_rx": [totals], "lcore_out": [out], "lcore_loop": snap["lcores"], "gen_msg": [g], "gen_out": [g["outputs"]],
                "gen_lat": [g["latency_ns"]], "route_any": [routes["relay"], routes["store"]],
                "route_udp": [routes["relay"]], "route_out": [routes["store"]],
                "output_worker": [sink], "output_thread": [sink],
            }
            for r in rows:
                for obj in where[r["list"]]:
                    check(isinstance(obj.get(r["key"]), int), f"dataplane JSON: {r['list']} lacks {r['key']!r}")
                if r["family"] == "lcore":
                    for lc in snap["lcores"]:
                        check(isinstance(lc.get(r["name"]), int), f"STATS lcores[] lacks {r['name']!r}")
            log(f"dataplane JSON: all {len(rows)} entries present")

            # 2. DPDK telemetry
            tel = telemetry(dp.prefix, ["/fanout/stats", "/fanout/drops", "/fanout/xdp", f"/fanout/genstats,{g['id']}",
                                        "/fanout/routes", "/fanout/outputs"])
            twhere = {
                "drop": [tel["/fanout/drops"]], "event": [tel["/fanout/stats"]], "xdp": [tel["/fanout/xdp"]],
                "lcore": [tel["/fanout/stats"]],
                "generation": [tel[f"/fanout/genstats,{g['id']}"]],
                "route": [tel["/fanout/routes"]["relay"], tel["/fanout/routes"]["store"]],
                "output": [tel["/fanout/outputs"]["rd"]],
            }
            for r in rows:
                if r["family"] == "out_drop":
                    check("out_" + r["name"] in tel["/fanout/drops"], f"telemetry /fanout/drops lacks out_{r['name']}")
                    continue
                key = r["name"] if r["family"] not in ("drop", "event", "xdp") else r["key"]
                for obj in twhere[r["family"]]:
                    check(isinstance(obj.get(key), int), f"telemetry ({r['family']}) lacks {key!r}: {sorted(obj)}")
            check(tel["/fanout/routes"]["relay"]["matched"] == routes["relay"]["matched"],
                  "telemetry and STATS disagree on the relay route's matched")
            log(f"DPDK telemetry: all {len(rows)} entries present")

            # 3. /metrics and /api/schema
            wait_until("fanout-control polled the routes",
                       lambda: (lambda s: ("fanout_route_matched_total", "") in s[0])(metrics(ctl)), timeout=10)
            series, helps, types = metrics(ctl)
            for r in rows:
                if r["reason"] == "*":  # a sum: exported as its labelled metric's series
                    check(any(m == r["metric"] for m, _ in series), f"/metrics lacks {r['metric']} ({r['name']})")
                else:
                    check((r["metric"], r["reason"]) in series,
                          f"/metrics lacks {r['metric']}{{reason={r['reason']!r}}} ({r['family']} {r['name']})")
                check(r["metric"] in helps and r["metric"] in types, f"/metrics: no HELP/TYPE for {r['metric']}")
            code, body = ctl.api("/api/schema")
            check(code == 200, f"GET /api/schema: {code} {body[:200]}")
            api = {(f["family"], e["name"]): e for f in json.loads(body)["families"] for e in f["entries"]}
            for r in rows:
                name = r["name"] if r["family"] not in ("drop", "out_drop", "event", "xdp") else r["key"]
                e = api.get((r["family"], name))
                check(e is not None and e["unit"] == r["unit"] and e["description"] == r["help"],
                      f"/api/schema: {r['family']} {name}: {e}")
            log(f"/metrics: all {len(rows)} entries present with HELP and TYPE; /api/schema lists them all")


if __name__ == "__main__":
    run_test(main, "every stats schema entry in the dataplane's JSON, DPDK telemetry and /metrics")
