#!/usr/bin/env python3
"""Several appliances, one topic space: three dataplanes, each in its own lab, bridged to one real broker
(Debian's mosquitto standing in for a broker cluster) by interest-following bridges (docs/outputs.md).

Each dataplane (A, B, C) has a bridge `fleet` (MQTT 5, its own ClientId) with `follow: [fleet/#]` and a
route fleet/# -> the same topic upstream, and `idle_sleep_us` so the three share this machine's cores.
MQTT-SN clients in each lab subscribe locally; nothing in any config names them. Checks:
  1. interest: a bridge holds no upstream subscription until a local client subscribes to a followed
     filter (`followed` 0), one per filter after (`followed` 1 for fleet/#); a filter outside the allow-list
     (private/#) is not subscribed upstream: a message published on private/x at the broker reaches no one;
  2. QoS 1 from every appliance: a publisher on A, B and C each sends N QoS 1 messages (PUBACK each); the
     QoS 1 subscriber on every appliance receives every one of the 3 N messages exactly once; no bridge
     sees its own messages come back (`echo_dropped` 0 and `received` = the other two appliances'
     messages, with No Local), and no message goes up twice (bridge `written` = N per appliance);
  3. QoS 0: N messages from A, each received at most once everywhere;
  4. the last local subscriber gone (UNSUBSCRIBE on B): B's bridge ends its upstream subscription
     (`unfollowed` 1), and B no longer receives the others' traffic (`received` stays), while A and C
     still serve each other;
  5. C stopped: A and B go on serving each other; C's client, reconnecting to B with its ClientId, gets
     service there (subscribes, receives A's messages);
  6. every appliance's counters balance: packet conservation, bridge routes matched == written + dropped.
An upstream subscription (or its end) counts as taken by the broker only when a probe published at the
broker shows it: the bridge sends SUBSCRIBE and UNSUBSCRIBE without waiting, and a message published before
the broker has the subscription is not the subscriber's."""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (F_QOS0, F_QOS1, PUBACK, PUBLISH, REGISTER, Dataplane, Lab, RawClient, Resp,  # noqa: E402
                     TestFailure, check, check_conservation, decode, events, free_tcp_port, lab_config, log, m_puback,
                     m_publish, m_regack, msg, output_balanced, run_test, scaled, wait_until, workdir,
                     remove_workdir)
import struct  # noqa: E402
import socket  # noqa: E402

N = 100
UNSUBSCRIBE, UNSUBACK = 0x14, 0x15


class Broker:
    """mosquitto on a free loopback port, anonymous, no persistence."""

    def __init__(self):
        self.dir = workdir("fleet-mosquitto")
        self.port = free_tcp_port()
        conf = os.path.join(self.dir, "mosquitto.conf")
        Path(conf).write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                              f"log_dest file {self.dir}/mosquitto.log\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until("mosquitto to accept connections", up, timeout=10)

    def publish(self, topic, payload, qos=1):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-V", "mqttv5", "-q", str(qos),
                        "-t", topic, "-m", payload], check=True, timeout=scaled(20))

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        remove_workdir(self.dir)


class Subscriber(threading.Thread):
    """An MQTT-SN client that subscribes and collects every PUBLISH (REGACKs our REGISTERs, PUBACKs QoS 1)."""

    def __init__(self, lab, client_id, filt, qos_flag=F_QOS1):
        super().__init__(daemon=True)
        self.client_id = client_id
        self.c = RawClient(lab)
        check(self.c.connect(client_id) == 0, f"{client_id}: CONNACK refused")
        self.tid, rc = self.c.subscribe(filt, qos_flag)
        check(rc == 0, f"{client_id}: SUBACK rc {rc} for {filt}")
        self.names = {}
        self.got = []  # (topic, payload)
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.unsuback = threading.Event()
        self.start()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                data, _ = self.c.sock.recvfrom(65535)
            except (socket.timeout, OSError):
                continue
            try:
                mtype, body = decode(data)
            except ValueError:
                continue
            if mtype == REGISTER:
                tid, mid = struct.unpack("!HH", body[:4])
                self.names[tid] = body[4:].decode()
                self.c.send(m_regack(tid, mid))
            elif mtype == PUBLISH:
                flags, tid, mid = body[0], int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big")
                if flags & 0x60 == F_QOS1:
                    self.c.send(m_puback(tid, mid))
                with self.lock:
                    self.got.append((self.names.get(tid, f"#{tid}"), bytes(body[5:])))
            elif mtype == UNSUBACK:
                self.unsuback.set()

    def unsubscribe(self, filt):
        """UNSUBSCRIBE; the reader thread sees the UNSUBACK."""
        self.unsuback.clear()
        self.c.send(msg(UNSUBSCRIBE, struct.pack("!BH", 0, self.c.next_id()) + filt.encode()))
        check(self.unsuback.wait(scaled(5)), f"no UNSUBACK for {filt}")

    def count(self, pred=lambda t, p: True):
        with self.lock:
            return sum(1 for t, p in self.got if pred(t, p))

    def payloads(self):
        with self.lock:
            return [p for _, p in self.got]

    def close(self):
        self.stop_ev.set()
        self.join(5)
        self.c.close()


def probed(broker, subscribers, tag):
    """A probe published at the broker until every subscriber got it: an upstream subscription is live
    only once the broker has taken it, and a message published before that is not theirs (MQTT 3.3.5)."""
    want = tag.encode()
    deadline = time.monotonic() + scaled(15)
    while time.monotonic() < deadline:
        broker.publish("fleet/probe", tag)
        if wait_until(f"the probe {tag}", lambda: all(s.count(lambda t, p: p == want) >= 1 for s in subscribers),
                      timeout=1, fail=False):
            return
    raise TestFailure(f"the probe {tag} never reached {[s.client_id for s in subscribers]}")


def publish(lab, client_id, topic, n, qos_flag, tag):
    """n PUBLISHes from a fresh client; QoS 1: each waits for its PUBACK (accepted)."""
    c = RawClient(lab)
    check(c.connect(client_id) == 0, f"{client_id}: CONNACK refused")
    tid = c.register(topic)
    for i in range(n):
        mid = c.next_id() if qos_flag == F_QOS1 else 0
        c.send(m_publish(tid, mid, f"{tag}:{i}".encode(), qos_flag))
        if qos_flag == F_QOS1:
            ack = c.expect(PUBACK, skip=(REGISTER,))
            check(ack[4] == 0, f"{client_id}: PUBACK rc {ack[4]} for message {i}")
    c.close()


def bridge(dp):
    with Resp(dp.ctl) as r:
        import json
        return json.loads(r.call("OUTPUTS"))["bridges"][0]


def main(args):
    broker = Broker()
    labs, dps = [], []
    try:
        for name in "ABC":
            lab = Lab(f"fleet{name.lower()}").__enter__()
            labs.append(lab)
        for name, lab in zip("ABC", labs):
            ctl = str(Path(workdir(f"fleet-ctl-{name}")) / "dp.sock")
            overrides = {
                "idle_sleep_us": 100,
                "bridges": [{"name": "fleet", "host": "127.0.0.1", "port": broker.port, "protocol": "mqttv5",
                             "client_id": f"fanout-{name}", "reconnect_min_ms": 50, "reconnect_max_ms": 400,
                             "follow": [{"filter": "fleet/#", "qos": 1}]}],
                "routes": [{"name": "up", "filter": "fleet/#", "bridge": "fleet", "topic": "{topic}"}],
            }
            text = lab_config(f"{lab.appliance_ip}/24", lab.vdev().split(",")[0], overrides)
            dp = Dataplane(f"fleet{name}", lab, config_text=text, extra_app=["--control", ctl]).__enter__()
            dp.ctl, dp.name, dp.lab = ctl, name, lab
            dps.append(dp)
        for dp in dps:
            wait_until(f"bridge of {dp.name} connected", lambda: bridge(dp)["connected"], timeout=15)
            check(bridge(dp)["followed"] == 0, f"{dp.name}: upstream subscriptions before any local subscriber")

        # 1. interest
        subs = {dp.name: Subscriber(dp.lab, f"sub{dp.name}", "fleet/#", F_QOS1) for dp in dps}
        priv = Subscriber(dps[2].lab, "privC", "private/#", F_QOS1)
        for dp in dps:
            wait_until(f"{dp.name}: fleet/# followed upstream", lambda: bridge(dp)["followed"] == 1, timeout=10)
        broker.publish("private/x", "not for the fleet")
        probed(broker, list(subs.values()), "probe")  # after private/x on the same broker
        check(priv.count() == 0, "a message on private/x (outside the allow-list) reached a local subscriber")
        log("interest: one upstream subscription per appliance (fleet/#), none for private/# (not allowed)")

        # 2. QoS 1 from every appliance
        b0 = {dp.name: bridge(dp) for dp in dps}
        threads = [threading.Thread(target=publish, args=(dp.lab, f"pub{dp.name}", f"fleet/{dp.name}", N, F_QOS1,
                                                          f"q1{dp.name}")) for dp in dps]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(120))
        for dp in dps:
            s = subs[dp.name]
            if not wait_until(f"{dp.name}: all {3 * N} QoS 1 messages",
                              lambda: s.count(lambda t, p: p.startswith(b"q1")) >= 3 * N, timeout=30, fail=False):
                ev = events(dp.snapshot())
                why = {k: v for k, v in ev.items() if v and k.startswith(("delivery_", "register_", "qos1_"))}
                raise TestFailure(f"{dp.name}: {s.count(lambda t, p: p.startswith(b'q1'))} of {3 * N} QoS 1 messages; "
                                  f"bridge {dict((k, bridge(dp)[k]) for k in ('received', 'injected', 'dropped'))}; "
                                  f"dataplane events {why}")
        time.sleep(0.3)  # a late duplicate would show here
        for dp in dps:
            got = [p for p in subs[dp.name].payloads() if p.startswith(b"q1")]
            want = {f"q1{a}:{i}".encode() for a in "ABC" for i in range(N)}
            check(len(got) == 3 * N and set(got) == want,
                  f"{dp.name}: {len(got)} QoS 1 copies, {len(set(got))} distinct, {len(want - set(got))} missing")
        b1 = {dp.name: bridge(dp) for dp in dps}
        for dp in dps:
            d = {k: b1[dp.name][k] - b0[dp.name][k] for k in ("written", "received", "injected", "echo_dropped")}
            log(f"{dp.name}: bridge written {d['written']} received {d['received']} injected {d['injected']} "
                f"echo_dropped {d['echo_dropped']}")
            check(d["written"] == N, f"{dp.name}: {d['written']} went up, expected {N}")
            check(d["received"] == 2 * N and d["injected"] == 2 * N and d["echo_dropped"] == 0,
                  f"{dp.name}: received {d['received']} injected {d['injected']} echo_dropped {d['echo_dropped']}, "
                  f"expected the other two appliances' {2 * N} and no echo")
        log(f"QoS 1: {3 * N} messages from three appliances, each subscriber got each exactly once; no loop")

        # 3. QoS 0 at most once
        publish(dps[0].lab, "pub0A", "fleet/zero", N, F_QOS0, "q0A")
        time.sleep(1.0)
        for dp in dps:
            got = [p for p in subs[dp.name].payloads() if p.startswith(b"q0")]
            check(len(got) == len(set(got)), f"{dp.name}: {len(got) - len(set(got))} QoS 0 duplicates")
            log(f"QoS 0 at {dp.name}: {len(got)} of {N} received, no duplicate (a burst on a new name waits for "
                "the REGACK, at most the session's window of copies: the rest are counted delivery_held_full)")

        # 4. the last local subscriber on B gone
        rB = bridge(dps[1])
        subs["B"].unsubscribe("fleet/#")
        wait_until("B: the upstream subscription ended", lambda: bridge(dps[1])["unfollowed"] == rB["unfollowed"] + 1,
                   timeout=10)
        # The broker has taken B's UNSUBSCRIBE once a probe reaches C but not B's bridge (which hears
        # the broker a hop before C's subscriber does).
        for k in range(int(scaled(20))):
            r0B = bridge(dps[1])["received"]
            probed(broker, [subs["C"]], f"probe-unsub-{k}")
            if bridge(dps[1])["received"] == r0B:
                break
        else:
            raise TestFailure("B's bridge still receives the broker's fleet/# after its UNSUBSCRIBE")
        publish(dps[0].lab, "pub2A", "fleet/after", 20, F_QOS1, "afA")
        wait_until("C: A's messages after B unsubscribed",
                   lambda: subs["C"].count(lambda t, p: p.startswith(b"afA")) == 20, timeout=15)
        check(bridge(dps[1])["received"] == r0B, "B still receives the fleet's traffic with no local subscriber")
        log("B's last subscriber gone: B unsubscribed upstream and receives nothing more; A -> C goes on")

        # 5. C stopped; its client comes back at B
        for s in (subs["C"], priv):
            s.close()
        stC = dps[2].stop()
        log(check_conservation(stC))
        rf = bridge(dps[1])["followed"]
        moved = Subscriber(dps[1].lab, "subC", "fleet/#", F_QOS1)
        wait_until("B: fleet/# followed upstream again", lambda: bridge(dps[1])["followed"] == rf + 1, timeout=10)
        probed(broker, [moved], "probe-moved")
        publish(dps[0].lab, "pub3A", "fleet/failover", 20, F_QOS1, "foA")
        wait_until("C's client, now at B, gets A's messages",
                   lambda: moved.count(lambda t, p: p.startswith(b"foA")) == 20, timeout=15)
        wait_until("A's own subscriber too", lambda: subs["A"].count(lambda t, p: p.startswith(b"foA")) == 20,
                   timeout=15)
        log("C stopped: A and B serve each other; C's client reconnected at B and gets service there")

        # 6. balance
        for s in (subs["A"], subs["B"], moved):
            s.close()
        for dp in dps[:2]:
            st = dp.stop()
            log(f"{dp.name}: " + check_conservation(st))
            fin = st["outputs"]["bridges"][0]
            check(output_balanced(fin), f"{dp.name}: bridge does not balance: "
                                        f"{dict((k, fin[k]) for k in ('matched', 'written', 'dropped', 'backlog'))}")
        fin = stC["outputs"]["bridges"][0]
        check(output_balanced(fin), f"C: bridge does not balance: {fin}")
    except TestFailure:
        for dp in dps:
            dp.__exit__(TestFailure, None, None)
        dps = []
        raise
    finally:
        for dp in dps:
            dp.__exit__(None, None, None)
        for lab in labs:
            lab.__exit__(None, None, None)
        broker.close()


if __name__ == "__main__":
    run_test(main, __doc__)
