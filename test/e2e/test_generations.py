#!/usr/bin/env python3
"""Generations in the dataplane, driven over its control socket (docs/control.md).

40 MQTT-SN clients (ClientIds dev-00..dev-39) publish QoS 1 to sensors/<id>. Two UDP collectors in the
lab namespace stand for downstream routes: the stable generation routes sensors/# to :9000, the canary
to :9001. Checks, each from the datagrams the collectors receive:
  - before a canary exists, and with the canary loaded at share 0: every publish reaches :9000 only;
  - CANARY SHARE 5000 (split): each client's publish reaches exactly one collector, :9001 exactly for
    the clients whose fo_client_id_hash(ClientId) % 10000 < 5000 (re-computed here), and SESSIONS
    reports the same side;
  - the share grows to 8000: clients only ever move stable -> canary;
  - mirror mode: everything goes to :9000 again, canary counts one mirror copy per canary client;
  - ROLLBACK: everyone on stable; PROMOTE: the canary's routes serve everyone;
  - a canary whose route leads nowhere (an address nobody answers ARP for) counts route_dropped per
    publish under that generation, and GENSTATS shows it against a clean stable;
  - refused loads: a changed port address (needs a restart, named), a generation id that is not
    above the last one; CONFIG DIFF names the changed route;
  - GENSTATS: per-generation msgs/publishes add up, latency histogram filled;
  - TOPICS / SUBSCRIPTIONS list what the clients created; the socket has the mode and group asked for;
  - DPDK telemetry (dpdk-telemetry.py) /fanout/generations, /fanout/genstats,ID, /fanout/drops and
    /fanout/stats give the same figures; conservation holds at the end."""
import grp
import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (F_QOS1, PUBACK, Dataplane, Lab, RawClient, Resp, RespError, check,  # noqa: E402
                     check_conservation, log, m_publish, on_canary, run_test, wait_until)

N = 40


def routes_line(lab, name, port, host=2):
    return (f'routes: [{{ name: {name}, filter: "sensors/#", '
            f'to: ["{lab.addr(host)}:{port}"] }}]')


def with_routes(base_text, line):
    return re.sub(r"(?m)^routes:.*$", line, base_text)


def drain(sock, wait=0.6):
    """Datagrams a collector received: list of payload strings."""
    got = []
    sock.settimeout(wait)
    while True:
        try:
            data, _ = sock.recvfrom(65535)
        except socket.timeout:
            return got
        got.append(data.decode())


class Fleet:
    def __init__(self, lab):
        self.clients = []
        for i in range(N):
            cid = f"dev-{i:02d}"
            c = RawClient(lab)
            check(c.connect(cid, keepalive=120) == 0, f"{cid}: CONNACK refused")
            tid = c.register(f"sensors/{cid}")
            self.clients.append((cid, c, tid))
        self.seq = 0

    def publish_all(self):
        """One QoS 1 publish per client (PUBACK awaited); returns the tag of this round."""
        self.seq += 1
        for cid, c, tid in self.clients:
            mid = c.next_id()
            c.send(m_publish(tid, mid, f"{cid}:{self.seq}".encode(), F_QOS1))
            c.expect(PUBACK, timeout=3.0)
        return self.seq

    def close(self):
        for _, c, _ in self.clients:
            c.close()


def round_trip(fleet, stable_sock, canary_sock):
    """{client id: [side, ...]} of one round: until every client's copy is in, then a quiet
    window in which a second copy (to either side) would show."""
    seq = fleet.publish_all()
    where = {}

    def collect(wait):
        for side, sock in (("stable", stable_sock), ("canary", canary_sock)):
            for p in drain(sock, wait):
                if p.endswith(f":{seq}"):
                    where.setdefault(p.split(":")[0], []).append(side)
        return len(where) >= len(fleet.clients)
    wait_until(f"round {seq}: a copy from every client", lambda: collect(0.02), timeout=5, fail=False)
    collect(0.3)
    return where


def expect_sides(where, expected, what):
    for cid, side in expected.items():
        got = where.get(cid, [])
        check(got == [side], f"{what}: {cid} reached {got or 'no collector'}, expected exactly [{side}]")
    check(set(where) <= set(expected), f"{what}: unexpected senders {set(where) - set(expected)}")


def telemetry(prefix, commands):
    """dpdk-telemetry.py -f PREFIX with commands on stdin: {command without params: reply}."""
    r = subprocess.run(["dpdk-telemetry.py", "-f", prefix], input="\n".join(commands) + "\n",
                       capture_output=True, text=True, timeout=30)
    out = {}
    dec = json.JSONDecoder()
    text = r.stdout
    i = 0
    while True:
        j = text.find("{", i)
        if j < 0:
            break
        obj, i = dec.raw_decode(text, j)
        out.update(obj)
    for c in commands:
        check(c.split(",")[0] in out, f"dpdk-telemetry.py gave no {c}: {r.stdout[-500:]} {r.stderr[-500:]}")
    return out


def gen(stats, gid):
    for g in stats["generations"]:
        if g["id"] == gid:
            return g
    raise AssertionError(f"generation {gid} not in GENSTATS: {[g['id'] for g in stats['generations']]}")


def main(args):
    with Lab("gen") as lab:
        sock_path = f"/tmp/fo-e2e-gen-{id(lab)}.sock"
        ov = {"routes": [{"name": "collect", "filter": "sensors/#", "to": [f"{lab.client_ip}:9000"]}]}
        app = ["--control", sock_path, "--control-mode", "0660", "--control-group", "daemon"]
        with Dataplane("gen", lab, overrides=ov, extra_app=app) as dp:
            st = os.stat(sock_path)
            check(stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == grp.getgrnam("daemon").gr_gid,
                  f"control socket mode {oct(stat.S_IMODE(st.st_mode))} gid {st.st_gid}, expected 0660 group daemon")
            base = Path(dp.config_path).read_text()
            check(re.search(r"(?m)^routes:", base), "the lab config has no routes line")
            stable_sock = lab.udp_socket(lab.client_ip, 9000)
            canary_sock = lab.udp_socket(lab.client_ip, 9001)
            fleet = Fleet(lab)
            r = Resp(sock_path)
            try:
                g0 = r.json("GENERATIONS")
                check(g0["stable"]["id"] == 1 and g0["canary"] is None and g0["share_bp"] == 0,
                      f"boot generations: {g0}")
                everyone = {cid: "stable" for cid, _, _ in fleet.clients}
                expect_sides(round_trip(fleet, stable_sock, canary_sock), everyone, "boot")

                cand = with_routes(base, routes_line(lab, "collect", 9001))
                d = r.json("CONFIG", "DIFF", cand)
                check(d["restart_required"] == [] and len(d["changes"]) == 1 and
                      d["changes"][0]["op"] == "change" and d["changes"][0]["route"] == "collect" and
                      ":9001" in d["changes"][0]["detail"], f"CONFIG DIFF: {d}")
                ld = r.json("CONFIG", "LOAD", cand)
                check(ld["generation"] == 2 and ld["as"] == "canary", f"CONFIG LOAD: {ld}")
                log(f"load canary: published in {ld['published_ns']} ns, all workers by {ld['all_workers_ns']} ns")
                expect_sides(round_trip(fleet, stable_sock, canary_sock), everyone, "canary at share 0")

                # Split at 50 %, then 80 %: sides from the ClientId hash, never back to stable.
                prev = everyone
                for share in (5000, 8000):
                    sh = r.json("CANARY", "SHARE", share)
                    check(sh["share_bp"] == share, f"CANARY SHARE: {sh}")
                    exp = {cid: "canary" if on_canary(cid, share) else "stable" for cid, _, _ in fleet.clients}
                    n_canary = sum(1 for v in exp.values() if v == "canary")
                    check(0 < n_canary < N, f"share {share}: {n_canary} of {N} clients on canary; pick other ids")
                    expect_sides(round_trip(fleet, stable_sock, canary_sock), exp, f"split {share} bp")
                    moved_back = [c for c in exp if prev[c] == "canary" and exp[c] == "stable"]
                    check(not moved_back, f"clients moved back to stable as the share grew: {moved_back}")
                    ses = r.json("SESSIONS", "COUNT", 100)
                    check(ses["total"] == N and len(ses["sessions"]) == N, f"SESSIONS: total {ses['total']}")
                    for s in ses["sessions"]:
                        check(s["side"] == exp[s["client_id"]], f"SESSIONS side of {s['client_id']}: {s['side']}")
                    log(f"split {share} bp: {n_canary}/{N} clients on canary, each on exactly one collector")
                    prev = exp

                # Mirror: stable serves all; canary counts what it would have sent.
                before = gen(r.json("GENSTATS"), 2)
                r.json("CANARY", "MODE", "mirror")
                expect_sides(round_trip(fleet, stable_sock, canary_sock), everyone, "mirror 8000 bp")
                after = gen(r.json("GENSTATS"), 2)
                n_canary = sum(1 for v in prev.values() if v == "canary")
                mirrored = after["mirror_copies"] + after["mirror_no_neighbour"] - \
                    before["mirror_copies"] - before["mirror_no_neighbour"]
                check(mirrored == n_canary, f"mirror: canary counted {mirrored} copies, expected {n_canary}")
                check(after["route_copies"] == before["route_copies"], "mirror: canary sent route copies")
                r.json("CANARY", "MODE", "split")

                rb = r.json("ROLLBACK")
                check(rb["share_bp"] == 0, f"ROLLBACK: {rb}")
                log(f"rollback: published in {rb['published_ns']} ns, all workers by {rb['all_workers_ns']} ns")
                expect_sides(round_trip(fleet, stable_sock, canary_sock), everyone, "after rollback")

                pr = r.json("PROMOTE")
                check(pr["stable"] == 2, f"PROMOTE: {pr}")
                expect_sides(round_trip(fleet, stable_sock, canary_sock),
                             {cid: "canary" for cid in everyone}, "after promote (generation 2 serves all)")

                # A canary whose route leads nowhere: counted drops under that generation only.
                nowhere = with_routes(base, routes_line(lab, "collect", 9001, host=99))
                ld = r.json("CONFIG", "LOAD", nowhere, "ID", 7)
                check(ld["generation"] == 7, f"CONFIG LOAD ID 7: {ld}")
                r.json("CANARY", "SHARE", 10000)
                fleet.publish_all()
                fleet.publish_all()
                gs = wait_until("generation 7 to count both rounds",
                                lambda: (lambda g: g if gen(g, 7)["route_dropped"] >= 2 * N else None)(
                                    r.json("GENSTATS")), timeout=5, fail=False) or r.json("GENSTATS")
                g7, g2 = gen(gs, 7), gen(gs, 2)
                check(g7["role"] == "canary" and g2["role"] == "stable", f"roles: {g7['role']}, {g2['role']}")
                check(g7["publishes"] == 2 * N and g7["route_matched"] == 2 * N and g7["route_dropped"] == 2 * N
                      and g7["route_copies"] == 0,
                      f"route to nowhere: publishes {g7['publishes']} matched {g7['route_matched']} "
                      f"dropped {g7['route_dropped']} copies {g7['route_copies']}")
                rt = r.json("ROUTES")
                check(rt["canary_id"] == 7 and rt["canary"][0]["dropped"] == 2 * N, f"ROUTES: {rt}")
                check(g2["route_dropped"] == 0, f"stable generation 2 dropped {g2['route_dropped']} route copies")
                check(g2["latency_ns"]["samples"] > 0 and g2["latency_ns"]["p99"] > 0,
                      f"stable latency histogram empty: {g2['latency_ns']}")
                log(f"generation 2 latency: {g2['latency_ns']}")
                r.json("ROLLBACK")

                # Refusals.
                moved = re.sub(r"(?m)^(\s*ipv4:\s*)\S+", rf"\g<1>{lab.appliance_ip}/25", base, count=1)
                try:
                    r.call("CONFIG", "LOAD", moved)
                    check(False, "a config with another port address was accepted at run time")
                except RespError as e:
                    check("ports[0].ipv4" in str(e) and "restart" in str(e), f"restart refusal: {e}")
                try:
                    r.call("CONFIG", "LOAD", cand, "ID", 3)
                    check(False, "generation id 3 accepted after 7")
                except RespError as e:
                    check("not above" in str(e), f"id refusal: {e}")
                try:
                    r.call("CONFIG", "LOAD", "routes: [ { name: x } ]")
                    check(False, "a config without ports was accepted")
                except RespError as e:
                    check("config refused" in str(e), f"bad config: {e}")

                tp = r.json("TOPICS", "COUNT", 1000)
                names = {t["name"] for t in tp["topics"]}
                check(tp["total"] >= N and all(f"sensors/{cid}" in names for cid in everyone), f"TOPICS: {tp}")
                sub = RawClient(lab)
                try:
                    check(sub.connect("watcher") == 0, "watcher CONNACK")
                    sub.subscribe("sensors/+")
                    sl = r.json("SUBSCRIPTIONS")
                    check(sl["total"] == 1 and sl["subscriptions"][0]["filter"] == "sensors/+" and
                          sl["subscriptions"][0]["client_id"] == "watcher", f"SUBSCRIPTIONS: {sl}")
                finally:
                    sub.close()
                gs = r.json("GENERATIONS")
                check(gs["stable"]["id"] == 2 and gs["canary"]["id"] == 7 and gs["share_bp"] == 0, f"final: {gs}")
                # The same figures through DPDK telemetry.
                tel = telemetry(dp.prefix, ["/fanout/generations", "/fanout/genstats,7", "/fanout/drops",
                                            "/fanout/stats"])
                tg = tel["/fanout/generations"]
                check(tg["stable"] == 2 and tg["canary"] == 7 and tg["share_bp"] == 0 and tg["mode"] == "split",
                      f"/fanout/generations: {tg}")
                t7 = tel["/fanout/genstats"]
                check(t7["id"] == 7 and t7["route_dropped"] == 2 * N and t7["role"] == "canary",
                      f"/fanout/genstats,7: {t7}")
                check(tel["/fanout/drops"]["out_no_neighbour"] >= 2 * N, f"/fanout/drops: {tel['/fanout/drops']}")
                check(tel["/fanout/stats"]["rx"] > 0, f"/fanout/stats: {tel['/fanout/stats']}")
            finally:
                r.close()
                fleet.close()
                stable_sock.close()
                canary_sock.close()
            final = dp.stop()
        check_conservation(final)
        stats_gens = {g["id"]: g for g in final["genstats"]["generations"]}
        check(2 in stats_gens and 7 in stats_gens, f"final stats genstats: {list(stats_gens)}")
        log("generations: split / mirror / rollback / promote / failing canary / refusals all as specified")


if __name__ == "__main__":
    run_test(main, __doc__)
