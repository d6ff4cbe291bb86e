#!/usr/bin/env python3
"""Predefined topics (mqttsn.predefined_topics, mqttsn.client_predefined) changed at run time by generations.

One dataplane with a control socket. A subscriber "sub-1" holds the wildcard "plant/#"; publishers
PUBLISH at QoS 1 with predefined topic ids.
  1. Boot: the global table has plant/a = 5. dev-7's PUBLISH to id 5 is accepted; the subscriber
     gets the copy with its own predefined id 5 and no REGISTER.
  2. CONFIG DIFF of a config with plant/a = 7 and, for the ClientId dev-7 alone, plant/dev7 = 9
     reports the key mqttsn.predefined_topics with nothing needing a restart; `fanoutctl config
     apply FILE --now` (through fanout-control) swaps it in. The same process (same pid) and the
     same session: dev-7's id 5 is refused with PUBACK 'invalid topic id', id 7 is accepted and
     delivered as 7, id 9 is accepted and reaches the subscriber (for whom plant/dev7 is not
     predefined) as a normal id after a REGISTER; "other"'s id 9 is refused.
  3. A staged rollout at 50 % of a config with plant/a = 8: a canary ClientId publishes with 8 (7
     refused), a stable one with 7 (8 refused); the subscriber gets the copies under the id of its
     own side. `fanoutctl rollout rollback` gives the canary client 7 again.
Conservation holds after stop."""
import struct
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (F_QOS1, PUBACK, PUBLISH, RC_ACCEPTED, RC_INVALID_TOPIC, TID_NORMAL,  # noqa: E402
                     TID_PREDEFINED, Control, Dataplane, Lab, RawClient, Resp, check, check_conservation,
                     lab_config, log, m_publish, on_canary, run_test, wait_until)


def predef_yaml(base_text, topics, rules=()):
    """base_text with its mqttsn section's predefined topics replaced (flow style)."""
    lines, skip = [], False
    for ln in base_text.splitlines():
        if ln.startswith("  predefined_topics:") or ln.startswith("  client_predefined:"):
            skip = True
            continue
        if skip and ln.startswith("    "):
            continue
        skip = False
        lines.append(ln)
    i = next(i for i, ln in enumerate(lines) if ln.startswith("mqttsn:"))

    def flow(ts):
        return "[" + ", ".join(f'{{ id: {tid}, name: "{name}" }}' for tid, name in ts) + "]"

    add = [f"  predefined_topics: {flow(topics)}"]
    if rules:
        add.append("  client_predefined: [" + ", ".join(
            f'{{ client_id: "{cid}", topics: {flow(ts)} }}' for cid, ts in rules) + "]")
    lines[i + 1:i + 1] = add
    return "\n".join(lines) + "\n"


def publish(c, tid, data):
    """A QoS 1 PUBLISH with a predefined id; returns the PUBACK's return code."""
    mid = c.next_id()
    c.send(m_publish(tid, mid, data.encode(), F_QOS1, TID_PREDEFINED))
    body = c.expect(PUBACK)
    rtid, rmid, rc = struct.unpack("!HHB", body)
    check(rmid == mid and rtid == tid, f"PUBACK ({rtid}, {rmid}) for ({tid}, {mid})")
    return rc


def copy(sub, data):
    """The subscriber's next PUBLISH (REGISTERs answered on the way): (topic id type, topic id)."""
    body = sub.expect(PUBLISH)
    flags, tid = body[0], struct.unpack("!H", body[1:3])[0]
    check(body[5:] == data.encode(), f"copy carries {body[5:]!r}, wanted {data!r}")
    return flags & 0x03, tid


def connected(lab, cid):
    c = RawClient(lab, bind_ip=lab.client_ips[0])
    check(c.connect(cid) == 0, f"CONNECT of {cid} refused")
    return c


def main(args):
    with Lab("pdf", clients=1) as lab:
        ip = lab.client_ips[0]
        base = lab_config(f"{lab.appliance_ip}/24", lab.vdev().split(",")[0])
        glob = [(1, "sensors/predefined")]
        boot = predef_yaml(base, glob + [(5, "plant/a")])
        sock_path = f"/tmp/fo-e2e-pdf-{id(lab)}.sock"
        with Dataplane("pdf", lab, config_text=boot, extra_app=["--control", sock_path]) as dp, \
                Control(sock_path, Path(dp.dir) / "control") as ctl:
            r = Resp(sock_path)
            clients = []
            try:
                pid = dp.proc.pid
                wait_until(f"an echo reply to {ip}", lambda: lab.run(
                    ["ping", "-c", "1", "-W", "1", "-I", ip, lab.appliance_ip], check_rc=False).returncode == 0,
                    timeout=10)
                sub = connected(lab, "sub-1")
                clients.append(sub)
                _, rc = sub.subscribe("plant/#")
                check(rc == RC_ACCEPTED, f"SUBSCRIBE plant/# rc {rc}")
                dev7 = connected(lab, "dev-7")
                clients.append(dev7)
                check(publish(dev7, 5, "boot") == RC_ACCEPTED, "boot: id 5 refused")
                check(copy(sub, "boot") == (TID_PREDEFINED, 5), "boot: the copy is not predefined id 5")
                check(not sub.gw_registers or all(n != "plant/a" for _, _, n in sub.gw_registers),
                      f"boot: plant/a was REGISTERed: {sub.gw_registers}")

                new = predef_yaml(base, glob + [(7, "plant/a")], [("dev-7", [(9, "plant/dev7")])])
                d = r.json("CONFIG", "DIFF", new)
                log(f"CONFIG DIFF: {d}")
                check(d["restart_required"] == [] and
                      [c.get("key") for c in d["changes"]] == ["mqttsn.predefined_topics"], f"CONFIG DIFF: {d}")
                f_new = Path(dp.dir) / "new.yaml"
                f_new.write_text(new)
                out = ctl.ctl_ok("config", "apply", f_new, "--now")
                log("fanoutctl config apply --now:\n" + out.rstrip())
                check("loaded as stable" in out and "mqttsn.predefined_topics" in out, f"config apply --now:\n{out}")
                g = r.json("GENERATIONS")
                check(g["stable"]["id"] > 1 and g["stable"]["predefined_topics"] == 2 and
                      g["stable"]["client_predefined"] == 1, f"GENERATIONS after the apply: {g}")
                rc = publish(dev7, 5, "old")
                check(rc == RC_INVALID_TOPIC, f"after the apply: the old id 5 got PUBACK rc {rc}, wanted 2")
                check(publish(dev7, 7, "new") == RC_ACCEPTED, "after the apply: the new id 7 refused")
                check(copy(sub, "new") == (TID_PREDEFINED, 7), "after the apply: the copy is not predefined id 7")
                check(publish(dev7, 9, "own") == RC_ACCEPTED, "after the apply: dev-7's own id 9 refused")
                ttype, tid = copy(sub, "own")
                check(ttype == TID_NORMAL and any(t == tid and n == "plant/dev7" for t, _, n in sub.gw_registers),
                      f"plant/dev7 reached the subscriber as ({ttype}, {tid}), REGISTERs {sub.gw_registers}")
                other = connected(lab, "other")
                clients.append(other)
                rc = publish(other, 9, "not yours")
                check(rc == RC_INVALID_TOPIC, f"another client's use of dev-7's id 9 got rc {rc}")
                check(dp.proc.poll() is None and dp.proc.pid == pid, "the dataplane restarted")
                sub.expect_nothing(0.3)  # nothing for the refused ones

                f_canary = Path(dp.dir) / "canary.yaml"
                f_canary.write_text(predef_yaml(base, glob + [(8, "plant/a")]))
                out = ctl.ctl_ok("config", "apply", f_canary)
                check("loaded as canary" in out, f"config apply:\n{out}")
                ctl.ctl_ok("rollout", "start", "--steps", "50", "--hold", "600s", "--no-auto")
                wait_until("the canary at share 50 %", lambda: r.json("GENERATIONS")["share_bp"] == 5000, timeout=10)
                c_id = next(f"dev-{n}" for n in range(1000) if on_canary(f"dev-{n}", 5000) and n != 7)
                s_id = next(f"dev-{n}" for n in range(1000) if not on_canary(f"dev-{n}", 5000) and n != 7)
                sub_id = 8 if on_canary("sub-1", 5000) else 7
                log(f"canary client {c_id}, stable client {s_id}; sub-1 sees plant/a as {sub_id}")
                can, sta = connected(lab, c_id), connected(lab, s_id)
                clients += [can, sta]
                check(publish(can, 8, "c8") == RC_ACCEPTED, f"{c_id} (canary): id 8 refused")
                check(copy(sub, "c8") == (TID_PREDEFINED, sub_id), f"the canary's copy is not id {sub_id}")
                check(publish(can, 7, "c7") == RC_INVALID_TOPIC, f"{c_id} (canary): id 7 not refused")
                check(publish(sta, 7, "s7") == RC_ACCEPTED, f"{s_id} (stable): id 7 refused")
                check(copy(sub, "s7") == (TID_PREDEFINED, sub_id), f"the stable's copy is not id {sub_id}")
                check(publish(sta, 8, "s8") == RC_INVALID_TOPIC, f"{s_id} (stable): id 8 not refused")
                out = ctl.ctl_ok("rollout", "rollback")
                log("fanoutctl rollout rollback: " + out.strip())
                wait_until("the share back at 0", lambda: r.json("GENERATIONS")["share_bp"] == 0, timeout=10)
                check(publish(can, 7, "back") == RC_ACCEPTED, f"after the rollback: {c_id}'s id 7 refused")
                check(copy(sub, "back") == (TID_PREDEFINED, 7), "after the rollback: the copy is not id 7")
                check(publish(can, 8, "gone") == RC_INVALID_TOPIC, f"after the rollback: {c_id}'s id 8 not refused")
                check(dp.proc.poll() is None and dp.proc.pid == pid, "the dataplane restarted")
            finally:
                for c in clients:
                    c.close()
                r.close()
            stats = dp.stop()
            check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__.splitlines()[0])
