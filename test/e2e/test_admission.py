#!/usr/bin/env python3
"""Client admission (security.admission, docs/security.md) changed at run time by generations.

One dataplane with a control socket and IPv6 on its port, two IPv4 client addresses in the lab
namespace (A and B) and two IPv6 ones (A6 = 2001:2:0:K::2 and B6 = ::3). Boot: an allow-list
(admission_unlisted: reject) naming the prefix "ok-" from the lab's /24 and its IPv6 /64, the ClientId
"pinned" from A's address alone and "pinned6" from A6's alone (an IPv6 /128).
  1. "ok-1" from A and "ok-6" from B6 are accepted; "stranger" (no rule) is refused with CONNACK 0x03
     and counted connect_rejected_unlisted; "pinned" from B is refused with 0x03 and counted
     connect_rejected_admission; "pinned" from A is accepted; "pinned6" from A6 is accepted, from B6
     (the same /64) and from A (IPv4) refused 0x03 (connect_rejected_admission 3 in all).
  2. CONFIG DIFF of a config that admits unlisted ClientIds and pins "pinned" to B reports the change
     as the key security.admission with nothing needing a restart; `fanoutctl config apply FILE --now`
     (through fanout-control) swaps it in: the same process (same pid, no restart) now accepts
     "stranger" and "pinned" from B and refuses "pinned" from A; GENERATIONS reports the new stable
     with admit.
  3. A staged rollout of a config that rejects every unlisted ClientId (`fanoutctl config apply`, then
     `fanoutctl rollout start --steps 100 --no-auto`): at share 100 % "stranger" is refused by its
     generation's rules; `fanoutctl rollout rollback` (share 0) admits it again.
Conservation holds after stop."""
import re
import socket
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Control, Dataplane, Lab, RawClient, Resp, check, check_conservation, events,  # noqa: E402
                     lab_config, log, run_test, wait_until)

REJECTED = 0x03


def admission_yaml(base_text, unlisted, rules):
    """base_text with its security section's admission keys replaced."""
    lines = [ln for ln in base_text.splitlines()
             if not ln.startswith("  admission_unlisted:") and not ln.startswith("  admission:")]
    i = next(i for i, ln in enumerate(lines) if ln.startswith("security:"))
    flow = ", ".join("{ " + ", ".join(f"{k}: {v}" for k, v in r.items()) + " }" for r in rules)
    lines[i + 1:i + 1] = [f"  admission_unlisted: {unlisted}", f"  admission: [{flow}]"]
    return "\n".join(lines) + "\n"


def connack(lab, ip, cid):
    c = RawClient(lab, bind_ip=ip, family=socket.AF_INET6 if ":" in ip else socket.AF_INET)
    try:
        return c.connect(cid)
    finally:
        c.close()


def main(args):
    with Lab("adm", clients=2) as lab:
        a_ip, b_ip = lab.client_ips[0], lab.client_ips[1]
        lab.enable_ipv6()
        a6, b6 = lab.client_ip6, lab.addr6(3)
        lab.run(["ip", "-6", "addr", "add", f"{b6}/64", "dev", lab.cl_if, "nodad"])
        net = ".".join(a_ip.split(".")[:3]) + ".0/24"
        base = lab_config(f"{lab.appliance_ip}/24", lab.vdev().split(",")[0])
        base = re.sub(r"(?m)^(\s*)(ipv4:.*)$", lambda m: f"{m.group(1)}{m.group(2)}\n{m.group(1)}ipv6: {lab.appliance_ip6}/64",
                      base, count=1)
        boot = admission_yaml(base, "reject", [
            {"client_id_prefix": '"ok-"', "from": f"[{net}, {lab.lease.prefix6}/64]"},
            {"client_id": '"pinned"', "from": f"[{a_ip}/32]"},
            {"client_id": '"pinned6"', "from": f"[{a6}/128]"},
        ])
        sock_path = f"/tmp/fo-e2e-adm-{id(lab)}.sock"
        with Dataplane("adm", lab, config_text=boot, extra_app=["--control", sock_path]) as dp, \
                Control(sock_path, Path(dp.dir) / "control") as ctl:
            r = Resp(sock_path)
            try:
                pid = dp.proc.pid
                for ip in (a_ip, b_ip):  # the appliance resolves both addresses before any CONNACK
                    wait_until(f"an echo reply to {ip}", lambda: lab.run(
                        ["ping", "-c", "1", "-W", "1", "-I", ip, lab.appliance_ip], check_rc=False).returncode == 0,
                        timeout=10)
                for ip in (a6, b6):  # and both IPv6 ones (Neighbor Discovery both ways)
                    wait_until(f"an ICMPv6 echo reply to {ip}", lambda: lab.run(
                        ["ping", "-6", "-c", "1", "-W", "1", "-I", ip, lab.appliance_ip6],
                        check_rc=False).returncode == 0, timeout=15, step=0.2)
                check(connack(lab, a_ip, "ok-1") == 0, "boot: ok-1 from A refused")
                check(connack(lab, b6, "ok-6") == 0, "boot: ok-6 from B6 (inside the rule's /64) refused")
                check(connack(lab, a_ip, "stranger") == REJECTED, "boot: an unlisted ClientId was not refused 0x03")
                check(connack(lab, b_ip, "pinned") == REJECTED, "boot: pinned from B was not refused 0x03")
                check(connack(lab, a_ip, "pinned") == 0, "boot: pinned from A refused")
                check(connack(lab, a6, "pinned6") == 0, "boot: pinned6 from A6 (its /128) refused")
                check(connack(lab, b6, "pinned6") == REJECTED, "boot: pinned6 from B6 was not refused 0x03")
                check(connack(lab, a_ip, "pinned6") == REJECTED, "boot: pinned6 from IPv4 A was not refused 0x03")
                ev = events(dp.snapshot())
                log(f"boot: connect_rejected_unlisted {ev['connect_rejected_unlisted']}, "
                    f"connect_rejected_admission {ev['connect_rejected_admission']}")
                check(ev["connect_rejected_unlisted"] == 1 and ev["connect_rejected_admission"] == 3,
                      f"boot counters: unlisted {ev['connect_rejected_unlisted']} (want 1), "
                      f"admission {ev['connect_rejected_admission']} (want 3)")

                opened = admission_yaml(base, "admit", [{"client_id": '"pinned"', "from": f"[{b_ip}/32]"}])
                d = r.json("CONFIG", "DIFF", opened)
                log(f"CONFIG DIFF: {d}")
                check(d["restart_required"] == [] and
                      [c.get("key") for c in d["changes"]] == ["security.admission"] and
                      "admit" in d["changes"][0]["detail"], f"CONFIG DIFF: {d}")
                f_open = Path(dp.dir) / "opened.yaml"
                f_open.write_text(opened)
                out = ctl.ctl_ok("config", "apply", f_open, "--now")
                log("fanoutctl config apply --now:\n" + out.rstrip())
                check("loaded as stable" in out and "security.admission" in out, f"config apply --now:\n{out}")
                g = r.json("GENERATIONS")
                check(g["stable"]["id"] > 1 and g["stable"]["admission_unlisted"] == "admit" and
                      g["stable"]["admission_rules"] == 1, f"GENERATIONS after the apply: {g}")
                check(connack(lab, a_ip, "stranger") == 0, "after the load: an unlisted ClientId still refused")
                check(connack(lab, b_ip, "pinned") == 0, "after the load: pinned from B still refused")
                check(connack(lab, a_ip, "pinned") == REJECTED, "after the load: pinned from A not refused 0x03")
                check(dp.proc.poll() is None and dp.proc.pid == pid, "the dataplane restarted")

                f_closed = Path(dp.dir) / "closed.yaml"
                f_closed.write_text(admission_yaml(base, "reject", [{"client_id": '"pinned"', "from": f"[{b_ip}/32]"}]))
                out = ctl.ctl_ok("config", "apply", f_closed)
                check("loaded as canary" in out, f"config apply:\n{out}")
                ctl.ctl_ok("rollout", "start", "--steps", "100", "--hold", "600s", "--no-auto")
                wait_until("the canary at share 100 %", lambda: r.json("GENERATIONS")["share_bp"] == 10000, timeout=10)
                check(connack(lab, a_ip, "stranger") == REJECTED, "canary at 100 %: its allow-list not applied")
                out = ctl.ctl_ok("rollout", "rollback")
                log("fanoutctl rollout rollback: " + out.strip())
                wait_until("the share back at 0", lambda: r.json("GENERATIONS")["share_bp"] == 0, timeout=10)
                check(connack(lab, a_ip, "stranger") == 0, "after the rollback: the stable rules not applied")
                ev = events(dp.snapshot())
                log(f"end: connect_rejected_unlisted {ev['connect_rejected_unlisted']}, "
                    f"connect_rejected_admission {ev['connect_rejected_admission']}, "
                    f"connect_accepted {ev['connect_accepted']}")
                check(ev["connect_rejected_unlisted"] == 2 and ev["connect_rejected_admission"] == 4,
                      f"end counters: unlisted {ev['connect_rejected_unlisted']} (want 2), "
                      f"admission {ev['connect_rejected_admission']} (want 4)")
            finally:
                r.close()
            stats = dp.stop()
            check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__.splitlines()[0])
