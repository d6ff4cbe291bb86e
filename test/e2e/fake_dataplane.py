#!/usr/bin/env python3
"""A stand-in for fanout-dataplane's control socket (docs/control.md "Dataplane control socket"), for tests of
fanout-control, fanoutctl and the dashboard that must not start DPDK. It speaks RESP on a unix socket and keeps
the generation state the real one keeps (stable, canary, share, mode, swaps), with synthetic traffic: counters
grow with time at --rate msgs/s, split between the generations by the share, a steady drop trickle by reason,
and a per-generation latency histogram. Not a model of the dataplane's forwarding; only of its control replies.

usage: fake_dataplane.py --socket PATH [--rate 1000] [--canary-drop-rate 0.0]"""
import argparse
import asyncio
import hashlib
import json
import os
import random
import signal
import sys
import time

DROP_REASONS = ["eth_not_for_us", "udp_no_listener", "mqttsn_malformed", "worker_ring_full"]


class Gen:
    def __init__(self, gid, yaml_text):
        self.id = gid
        self.routes = max(1, yaml_text.count("name:"))
        self.sha256 = hashlib.sha256(yaml_text.encode()).hexdigest()
        self.created_ms = int(time.time() * 1000)
        self.c = {k: 0.0 for k in ("msgs", "publishes", "deliveries", "error_replies", "drops", "route_matched",
                                   "route_copies", "route_dropped", "mirror_copies", "mirror_no_neighbour")}
        self.samples = 0

    def desc(self):
        return {"id": self.id, "routes": self.routes, "sha256": self.sha256, "created_ms": self.created_ms}


class FakeDataplane:
    def __init__(self, rate, canary_drop_rate):
        self.rate = rate
        self.canary_drop_rate = canary_drop_rate
        self.t0 = time.monotonic()
        self.last = self.t0
        self.gens = {1: Gen(1, "routes: []\n")}
        self.stable, self.canary = 1, None
        self.share_bp, self.mode, self.swaps, self.last_swap = 0, "split", 0, None
        self.max_id = 1
        self.totals = {"rx": 0.0, "delivered": 0.0, "answered": 0.0}
        self.drops = {r: 0.0 for r in DROP_REASONS}

    def advance(self):
        now = time.monotonic()
        dt, self.last = now - self.last, now
        n = self.rate * dt
        canary_n = n * self.share_bp / 10000 if self.canary else 0
        for gid, m, extra_drop in ((self.stable, n - canary_n, 0.0), (self.canary, canary_n, self.canary_drop_rate)):
            if gid is None or m <= 0:
                continue
            g = self.gens[gid].c
            g["msgs"] += m
            g["publishes"] += m * 0.9
            g["deliveries"] += m * 1.8
            g["route_matched"] += m * 0.5
            g["route_copies"] += m * 0.5
            g["drops"] += m * (0.001 + extra_drop)
            self.gens[gid].samples += m
        self.totals["rx"] += n
        self.totals["delivered"] += n * 0.9
        for i, r in enumerate(DROP_REASONS):
            self.drops[r] += n * 0.0005 * (i + 1)
        self.totals["answered"] = self.totals["rx"] - self.totals["delivered"] - sum(self.drops.values())

    def role(self, gid):
        return "stable" if gid == self.stable else "canary" if gid == self.canary else "retired"

    def genstats(self):
        out = []
        for gid, g in sorted(self.gens.items()):
            base = 20000 + (15000 if gid == self.canary and self.canary_drop_rate else 0)
            lat = {"samples": int(g.samples), "p50": base, "p90": base * 2, "p99": base * 4 + random.randint(0, 2000),
                   "p999": base * 8, "max": base * 20}
            out.append({"id": gid, "role": self.role(gid), **{k: int(v) for k, v in g.c.items()}, "latency_ns": lat})
        return {"uptime_ms": int((time.monotonic() - self.t0) * 1000), "generations": out}

    def generations(self):
        return {"stable": self.gens[self.stable].desc(),
                "canary": self.gens[self.canary].desc() if self.canary else None,
                "share_bp": self.share_bp, "mode": self.mode, "swaps": self.swaps, "last_swap": self.last_swap}

    def stats(self):
        t = {k: int(v) for k, v in self.totals.items()}
        drops = {r: int(v) for r, v in self.drops.items()}
        t["dropped"] = sum(drops.values())
        t.update({"in_pipeline": 0, "balanced": True, "drops": drops,
                  "out": {"generated": t["delivered"], "sent": t["delivered"], "dropped": 0, "in_pipeline": 0,
                          "balanced": True, "drops": {}},
                  "events": {"deliveries": int(self.totals["delivered"] * 2)}})
        s = {"reason": "control", "uptime_s": time.monotonic() - self.t0, "totals": t, "ports": [], "lcores": [],
             "workers": [{"index": 0, "lcore": 1, "sessions": 3, "topics": 2, "subscriptions": 4, "inflight": 0}],
             "rings": [], "mempools": []}
        s["generations"] = self.genstats()["generations"]
        return s

    def swap(self, command):
        self.swaps += 1
        self.last_swap = {"command": command, "published_ns": random.randint(300, 900),
                          "all_workers_ns": random.randint(2000, 9000)}
        return self.last_swap["published_ns"]

    def command(self, args):
        """One command -> (kind, value): kind '+' status, '-' error, '$' bulk string."""
        self.advance()
        cmd = [a.decode(errors="replace") for a in args]
        name = cmd[0].upper()
        up = [c.upper() for c in cmd]
        if name == "PING":
            return "+", "PONG"
        if name == "QUIT":
            return "+", "OK"
        if name == "INFO":
            return "$", f"# Server\r\nfanout_version:fake\r\nrx:{int(self.totals['rx'])}\r\n"
        if name == "STATS":
            return "$", json.dumps(self.stats())
        if name == "GENSTATS":
            return "$", json.dumps(self.genstats())
        if name == "GENERATIONS":
            return "$", json.dumps(self.generations())
        if name in ("SESSIONS", "TOPICS", "SUBSCRIPTIONS"):
            key = name.lower()
            rows = {"sessions": [{"worker": 0, "client_id": f"dev-{i}", "ip": f"198.18.0.{10 + i}", "port": 1883,
                                  "state": "active", "keepalive_s": 60,
                                  "side": "canary" if i * 2500 < self.share_bp else "stable",
                                  "subscriptions": 1, "inflight": 0} for i in range(3)],
                    "topics": [{"worker": 0, "id": 1, "name": "sensors/t"}, {"worker": 0, "id": 2, "name": "cmd"}],
                    "subscriptions": [{"worker": 0, "client_id": "dev-0", "filter": "sensors/#", "qos": 1}]}[key]
            return "$", json.dumps({"total": len(rows), key: rows})
        if name == "ROUTES":
            def rt(gid):
                return [{"name": f"r{i}", "filter": "sensors/#", "to": ["198.18.0.99:9000"], "format": "raw",
                         "matched": int(self.gens[gid].c["route_matched"]), "copies": int(self.gens[gid].c["route_copies"]),
                         "dropped": 0} for i in range(self.gens[gid].routes)]
            return "$", json.dumps({"stable": rt(self.stable), "canary": rt(self.canary) if self.canary else None})
        if name == "CONFIG" and len(cmd) >= 3 and up[1] == "DIFF":
            return "$", json.dumps({"changes": [{"op": "change", "route": "r0", "detail": "fake diff"}],
                                    "restart_required": []})
        if name == "CONFIG" and len(cmd) >= 3 and up[1] == "LOAD":
            yaml_text, opts = cmd[2], up[3:]
            gid = self.max_id + 1
            as_ = "canary"
            for i in range(0, len(opts) - 1, 2):
                if opts[i] == "ID":
                    gid = int(opts[i + 1])
                    if gid <= self.max_id:
                        return "-", f"ERR generation id {gid} not greater than {self.max_id}; use a larger ID"
                elif opts[i] == "AS":
                    as_ = opts[i + 1].lower()
            self.max_id = gid
            self.gens[gid] = Gen(gid, yaml_text)
            if as_ == "stable":
                self.stable, self.canary = gid, None
            else:
                self.canary = gid
            self.share_bp = 0
            self.swap(f"CONFIG LOAD AS {as_}")
            return "$", json.dumps({"generation": gid, "as": as_, "changes": []})
        if name == "CANARY" and len(cmd) >= 3 and up[1] == "SHARE":
            if not self.canary:
                return "-", "ERR no canary generation; CONFIG LOAD one first"
            self.share_bp = max(0, min(10000, int(cmd[2])))
            return "$", json.dumps({"share_bp": self.share_bp, "published_ns": self.swap(f"CANARY SHARE {cmd[2]}")})
        if name == "CANARY" and len(cmd) >= 3 and up[1] == "MODE":
            self.mode = cmd[2].lower()
            self.swap(f"CANARY MODE {self.mode}")
            return "$", json.dumps({"mode": self.mode})
        if name == "PROMOTE":
            if not self.canary:
                return "-", "ERR no canary generation to promote"
            self.stable, self.canary, self.share_bp = self.canary, None, 0
            self.swap("PROMOTE")
            return "$", json.dumps({"stable": self.stable})
        if name == "ROLLBACK":
            self.share_bp = 0
            return "$", json.dumps({"share_bp": 0, "published_ns": self.swap("ROLLBACK")})
        return "-", f"ERR unknown command '{cmd[0]}'"


async def read_command(reader):
    line = await reader.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return [w for w in line.strip().split()]  # inline command (redis-cli/nc style)
    n = int(line[1:])
    args = []
    for _ in range(n):
        hdr = await reader.readline()
        ln = int(hdr[1:])
        data = await reader.readexactly(ln + 2)
        args.append(data[:-2])
    return args


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--rate", type=float, default=1000.0, help="synthetic MQTT-SN msgs/s (default 1000)")
    ap.add_argument("--canary-drop-rate", type=float, default=0.0,
                    help="extra drops per canary msg (make a drop_rate gate fail)")
    args = ap.parse_args()
    dp = FakeDataplane(args.rate, args.canary_drop_rate)

    async def serve(reader, writer):
        try:
            while True:
                cmd = await read_command(reader)
                if not cmd:
                    break
                kind, val = dp.command(cmd)
                if kind == "$":
                    b = val.encode()
                    writer.write(b"$%d\r\n%s\r\n" % (len(b), b))
                else:
                    writer.write(f"{kind}{val}\r\n".encode())
                await writer.drain()
                if cmd[0].upper() == b"QUIT":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def run():
        if os.path.exists(args.socket):
            os.unlink(args.socket)
        server = await asyncio.start_unix_server(serve, path=args.socket)
        print(f"fake dataplane on {args.socket}", flush=True)
        async with server:
            await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(run())
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if os.path.exists(args.socket):
            os.unlink(args.socket)


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    main()
