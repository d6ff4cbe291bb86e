#!/usr/bin/env python3
"""Interoperability: MQTT-SN clients that nobody here wrote, run against a real fanout-dataplane on the lab.

The clients are built outside this repository (docs/interop.md says from which commits and how) and given by
their build directories:
  MQTTSN_TOOLS_DIR   njh/mqtt-sn-tools: mqtt-sn-pub, mqtt-sn-sub
  PAHO_MQTTSN_DIR    eclipse/paho.mqtt-sn.embedded-c, MQTTSNPacket/samples: qos0pub, qos1pub, qos-1pub,
                     qos-1pub_extended, pub0sub1, qos0pub_register
  PAHO_GWTESTER_DIR  the same repository's MQTTSNGateway/GatewayTester: MQTT-SNGatewayTester (its own test
                     scenario) and the -will and -qos2 variants (test/interop/build_clients.sh builds all)
With none set the test is skipped (exit 77); a set variable whose binaries are missing is a failure.
The GatewayTester finds its gateway only by SEARCHGW to the multicast group 225.1.1.1:1883: the dataplane it
talks to has discovery.destination 225.1.1.1:1883, so it listens to that group and answers with GWINFO to the
group; the lab's client namespace gets a route for 224.0.0.0/4 out of its veth (it has no default route, and the
tester joins and sends with INADDR_ANY as its interface).

Every feature a client offers is one row of a table: what was run (the exact command), and the outcome:
  worked    the client did what it asked for, as the spec says
  refused   the appliance declined in the documented way (forwarder encapsulation, which Fanout does not
            have; a policy; or a client extension outside v1.2); the row says which. Features Fanout has
            (wills, QoS 2, retained, CleanSession=0, sleeping clients) must work: no refusal is accepted there.
  client    the client itself stops short of the spec (the row says where); the appliance's side is checked
  FAILED    anything else: a spec violation, a hang, a lost message. Any FAILED row fails the test.
tshark decodes everything the appliance sent (captured at the client end of the lab): no malformed packet,
no expert error, PUBACK codes, the retain flag only on the retained copy, and under a wildcard each PUBLISH of a
newly registered name follows the client's REGACK. A second dataplane with security.address_proof: false runs
the rows the proof stands in the way of (Paho's pub0sub1, a CleanSession=0 reconnect from a new port)."""
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
import harness  # noqa: E402
from harness import (F_QOS0, PUBLISH, REGISTER, Capture, Dataplane, Lab, RawClient, TestFailure,  # noqa: E402
                     check, check_conservation, log, m_regack, run_test, scaled, tshark_fields, tshark_problems,
                     wait_until)

SKIP = 77
TOOLS_BINS = ("mqtt-sn-pub", "mqtt-sn-sub")
PAHO_BINS = ("qos0pub", "qos1pub", "qos-1pub", "qos-1pub_extended", "pub0sub1", "qos0pub_register")
GWTESTER_BINS = ("MQTT-SNGatewayTester", "MQTT-SNGatewayTester-will", "MQTT-SNGatewayTester-qos2")
GWTESTER_GROUP = "225.1.1.1"  # the group and port in the tester's UDPCONF (samples/mainTest.cpp)
PREDEFINED_ID, PREDEFINED_NAME = 1, "sensors/predefined"  # deploy/lab.yaml
PAHO_PAYLOAD = "mypayload"  # what every Paho sample publishes


def client_dirs():
    """{name: directory} of the clients given, or exits: 77 when none is given, 1 when one is incomplete."""
    found = {}
    for var, bins in (("MQTTSN_TOOLS_DIR", TOOLS_BINS), ("PAHO_MQTTSN_DIR", PAHO_BINS),
                      ("PAHO_GWTESTER_DIR", GWTESTER_BINS)):
        d = os.environ.get(var)
        if not d:
            continue
        missing = [b for b in bins if not os.access(os.path.join(d, b), os.X_OK)]
        if missing:
            print(f"interop: FAIL: {var}={d} lacks {', '.join(missing)} (build it as docs/interop.md says)", flush=True)
            sys.exit(1)
        found[var] = os.path.abspath(d)
    if not found:
        print("interop: SKIP: no external client given (set MQTTSN_TOOLS_DIR, PAHO_MQTTSN_DIR and/or "
              "PAHO_GWTESTER_DIR to their build directories; docs/interop.md)", flush=True)
        sys.exit(SKIP)
    return found


class Table:
    """The rows of the report; a check that raises is recorded FAILED and the next one runs."""

    def __init__(self):
        self.rows = []  # (client, feature, outcome, detail, command)

    def add(self, client, feature, outcome, detail, command=""):
        self.rows.append((client, feature, outcome, detail, command))
        log(f"{outcome:8} {client} / {feature}: {detail}")

    def run(self, client, feature, fn):
        try:
            outcome, detail, command = fn()
        except TestFailure as e:
            outcome, detail, command = "FAILED", str(e), getattr(e, "command", "")
        self.add(client, feature, outcome, detail, command)

    def print(self):
        w1 = max(len(r[0]) for r in self.rows)
        w2 = max(len(r[1]) for r in self.rows)
        print(f"\n{'client':{w1}}  {'feature':{w2}}  {'outcome':8}  detail", flush=True)
        for c, f, o, d, _ in self.rows:
            print(f"{c:{w1}}  {f:{w2}}  {o:8}  {d}")
        print("\ncommands (run in the lab's client namespace, `ip netns exec NS ...`):")
        for c, f, _, _, cmd in self.rows:
            if cmd:
                print(f"  {f}: {cmd}")
        n = {o: sum(1 for r in self.rows if r[2] == o) for o in ("worked", "refused", "client", "FAILED")}
        print(f"\n{n['worked']} worked, {n['refused']} refused, {n['client']} client-side limits, "
              f"{n['FAILED']} failed", flush=True)
        return n["FAILED"]


def fail(msg, command=""):
    e = TestFailure(msg)
    e.command = command
    return e


def in_ns(lab, argv):
    return ["ip", "netns", "exec", lab.ns] + [str(a) for a in argv]


def short(argv, d):
    """A command as docs/interop.md shows it: the client's directory as $DIR."""
    return " ".join(str(a).replace(d + "/", "$DIR/") if " " not in str(a) else repr(str(a)).replace(
        d + "/", "$DIR/") for a in argv)


def run_client(lab, argv, timeout=10):
    """A client run to its end in the lab namespace: (exit code or None when it hung, stdout, stderr)."""
    try:
        r = subprocess.run(in_ns(lab, argv), capture_output=True, text=True, timeout=scaled(timeout),
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        def text(x):
            return x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
        return None, text(e.stdout), text(e.stderr)


class Sub:
    """mqtt-sn-sub -d -V in the background: its messages (topic, payload) from stdout and its debug log
    (stderr) read by threads; ready() once every SUBSCRIBE has its SUBACK."""

    LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (\S+): ?(.*)$")

    def __init__(self, lab, tools, args, n_topics):
        self.argv = [os.path.join(tools, "mqtt-sn-sub"), "-d", "-V", "-h", lab.appliance_ip] + list(args)
        self.cmd = short(self.argv, tools)
        self.n_topics = n_topics
        self.out, self.err = [], []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(in_ns(lab, self.argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        self.threads = [threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
                        threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    def _read(self, f, dst):
        for line in f:
            with self.lock:
                dst.append(line.rstrip("\n"))

    def log(self):
        with self.lock:
            return list(self.err)

    def count(self, text):
        return sum(1 for ln in self.log() if text in ln)

    def messages(self):
        with self.lock:
            return [m.groups() for m in map(self.LINE.match, self.out) if m]

    def ready(self, timeout=10):
        def ok():
            if self.proc.poll() is not None:
                raise fail(f"mqtt-sn-sub exited {self.proc.returncode} before its SUBACKs: "
                           f"{' | '.join(self.log()[-4:])}", self.cmd)
            return self.count("SUBACK return code: 0x00") >= self.n_topics
        wait_until(f"mqtt-sn-sub's {self.n_topics} SUBACKs", ok, timeout=timeout)
        return self

    def wait_message(self, topic, payload, timeout=5):
        return wait_until(f"mqtt-sn-sub ({self.cmd}) to print {topic}: {payload[:40]}",
                          lambda: (topic, payload) in self.messages(), timeout=timeout, fail=False)

    def stop(self):
        """SIGTERM (the client then sends DISCONNECT and waits for the gateway's); returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=scaled(10))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        for t in self.threads:
            t.join(timeout=2)
        return rc

    def disconnected(self):
        return any("Type=DISCONNECT" in ln for ln in self.log())


def stats_delta(before, after, section):
    b, a = before["totals"][section], after["totals"][section]
    return {k: a[k] - b.get(k, 0) for k in a if a[k] != b.get(k, 0)}


# ---------------------------------------------------------------------------------------------
# njh/mqtt-sn-tools

def tools_publisher(lab, tools, first=1):
    """(pub, pub_ok): mqtt-sn-pub runs, each with a ClientId of its own (interop-pubN) unless at QoS -1."""
    pub_bin = os.path.join(tools, "mqtt-sn-pub")
    seq = [first - 1]

    def pub(args, timeout=10):
        seq[0] += 1
        argv = [pub_bin, "-d", "-h", lab.appliance_ip] + list(args)
        if "-q" not in args or args[args.index("-q") + 1] != "-1":
            argv[4:4] = ["-i", f"interop-pub{seq[0]}"]
        rc, out, err = run_client(lab, argv, timeout)
        return rc, out, err, short(argv, tools)

    def pub_ok(args):
        rc, out, err, cmd = pub(args)
        if rc != 0:
            raise fail(f"mqtt-sn-pub exited {rc}: {err.strip().splitlines()[-1:] if err.strip() else ''}", cmd)
        return err, cmd
    return pub, pub_ok


REGISTER_BEFORE_CONNACK = "Was expecting CONNACK packet but received: REGISTER"
CS_PORT, SLEEP_PORT = 21883, 21884  # --cport: the client's own UDP port, kept across its two processes


def suback_id(sub):
    """The topic id of mqtt-sn-sub's first SUBACK (its log: 'SUBACK topic id: 0x0002')."""
    ids = [ln.split(": ")[-1] for ln in sub.log() if "SUBACK topic id" in ln]
    check(ids, f"no SUBACK topic id in the log of {sub.cmd}")
    return ids[0]


def resumed_copy(b, tid, payload, name):
    """How the second process of a CleanSession=0 client got the copy for a name subscribed by the first: printed
    (the gateway REGISTERed the kept id first, 6.10, so the new process learnt it), or only 'Failed to lookup
    topic id: <tid>' (the PUBLISH came under the kept id without a REGISTER; a new mqtt-sn-sub process starts
    with an empty topic table). None: not at all."""
    def seen():
        if (name, payload) in b.messages():
            return "printed"
        return "unknown id" if any(f"Failed to lookup topic id: {tid}" in ln for ln in b.log()) else None
    return wait_until(f"the copy on {name} ({tid}) at {b.cmd}", seen, timeout=5, fail=False)


def tools_resume_checks(lab, dp, tools, table, pub_ok, proof=True):
    """CleanSession=0 across DISCONNECT and a sleeping client woken by CONNECT, each by two mqtt-sn-sub processes
    in turn (the first subscribes and disconnects, the second connects with -c only): from the same UDP port
    (--cport) as a device keeps its address, and from a new one (a NAT rebinding)."""
    C = "mqtt-sn-tools"
    suffix = "" if proof else ", address proof off"

    def client_row(how, tid, what):
        if how == "printed":
            return "worked", (what + f" after the gateway's REGISTER of the first session's topic id {tid} (6.10: "
                              "the client may have lost its table), which mqtt-sn-sub answers: the second process, "
                              "with an empty topic table, printed it")
        return "client", (what + f" (topic id {tid} of the first session, no REGISTER: 6.3 keeps the client's "
                          "topic ids, 6.10 makes a REGISTER optional); mqtt-sn-sub, a new process with an empty "
                          f"topic table, logs 'Failed to lookup topic id: {tid}' and does not print it")

    def clean_session_0(port):
        cport = ["--cport", str(port)] if port else []
        cid = "interop-cs" if port else "interop-csnat"  # a session of its own: the other one is kept, too
        a = Sub(lab, tools, ["-i", cid, "-c", "-k", "10", "-t", "interop/cs"] + cport, 1)
        a.ready()
        tid = suback_id(a)
        rc = a.stop()
        check(rc == 0 and a.disconnected(), f"first session: exit {rc}, DISCONNECT answered {a.disconnected()}")
        b = Sub(lab, tools, ["-i", cid, "-c", "-k", "10", "-T", str(PREDEFINED_ID)] + cport, 1)
        try:
            try:
                b.ready()
            except TestFailure:
                if proof and not port and any(REGISTER_BEFORE_CONNACK in ln for ln in b.log()):
                    raise fail("6.2/6.3: the CONNECT (CleanSession=0, Will=0) that takes back a session with "
                               "subscriptions from a new source port is answered by the address-proof REGISTER "
                               "($SYS/proof), the CONNACK only after its REGACK; 6.2 'If Will flag is not set then "
                               "the GW answers directly with a CONNACK', 6.3 'keeps all stored client's data and "
                               f"returns CONNACK'. mqtt-sn-sub exits 1: '{REGISTER_BEFORE_CONNACK}' (from the same "
                               "port, or with the proof off, the same client connects)", f"{a.cmd}; SIGTERM; {b.cmd}")
                raise
            _, cmd = pub_ok(["-q", "1", "-t", "interop/cs", "-m", "after-reconnect"])
            how = resumed_copy(b, tid, "after-reconnect", "interop/cs")
        finally:
            b.stop()
        cmds = f"{a.cmd}; SIGTERM; {b.cmd}; {cmd}"
        if not how:
            raise fail("after DISCONNECT and a new CONNECT with CleanSession=0 the client gets nothing on "
                       "interop/cs, subscribed in the first session (6.3: the gateway keeps the subscriptions)", cmds)
        return (*client_row(how, tid, "CONNACK 0x00 at once; the copy published after the reconnect arrives"), cmds)

    if proof:
        table.run(C, "CleanSession=0 reconnect, same port (-c --cport)", lambda: clean_session_0(CS_PORT))
    table.run(C, "CleanSession=0 reconnect, new port (-c)" + suffix, lambda: clean_session_0(None))

    def sleeping():
        cport = ["--cport", str(SLEEP_PORT)]
        a = Sub(lab, tools, ["-i", "interop-sleep", "-c", "-e", "30", "-k", "10", "-t", "interop/sleep"] + cport, 1)
        a.ready()
        tid = suback_id(a)
        before = dp.snapshot()
        rc = a.stop()
        check(rc == 0 and a.disconnected(), f"DISCONNECT(duration 30): exit {rc}, answered {a.disconnected()}")
        _, cmd = pub_ok(["-q", "1", "-t", "interop/sleep", "-m", "while-asleep"])
        asleep = stats_delta(before, dp.snapshot(), "events")
        check(asleep.get("session_asleep", 0) == 1 and asleep.get("delivery_buffered", 0) >= 1,
              f"DISCONNECT(30) did not put the client asleep with the copy buffered: events {asleep}")
        b = Sub(lab, tools, ["-i", "interop-sleep", "-c", "-k", "10", "-T", str(PREDEFINED_ID)] + cport, 1)
        try:
            b.ready()
            how = resumed_copy(b, tid, "while-asleep", "interop/sleep")
        finally:
            b.stop()
        cmds = f"{a.cmd}; SIGTERM; {cmd}; {b.cmd}"
        check(how, "the copy buffered while the client slept was not delivered after its CONNECT (6.14)")
        return (*client_row(how, tid, "DISCONNECT with Duration 30 answered by DISCONNECT (session_asleep); the "
                            "QoS 1 copy published meanwhile buffered (delivery_buffered) and sent once the CONNACK of "
                            "the waking CONNECT was out,"), cmds)
    if proof:
        table.run(C, "sleeping client (-e 30), woken by CONNECT", sleeping)


def tools_checks(lab, dp, tools, table):
    C = "mqtt-sn-tools"
    pub, pub_ok = tools_publisher(lab, tools)

    # One subscriber holds every kind of subscription the tool offers; a second one subscribes at QoS 1
    # with a 2 s keepalive, so its PINGREQs run through the whole session.
    sub = Sub(lab, tools, ["-i", "interop-sub", "-k", "10", "-t", "interop/name", "-t", "interop/wild/+",
                           "-t", "interop/deep/#", "-t", "ab", "-T", str(PREDEFINED_ID)], 5)
    subq1 = Sub(lab, tools, ["-i", "interop-subq1", "-k", "2", "-q", "1", "-t", "interop/q1/#"], 1)
    try:
        def connect_subscribe():
            sub.ready()
            subq1.ready()
            log_ = sub.log()
            tid = [ln for ln in log_ if "SUBACK topic id" in ln]
            check(sub.count("CONNACK return code: 0x00") == 1, "no CONNACK 0x00 in the client's log")
            return ("worked", f"CONNACK 0x00; 5 SUBACKs 0x00 ({', '.join(x.split(': ')[-1] for x in tid)}): "
                    "name, '+', '#', short 'ab', predefined 1", sub.cmd)
        table.run(C, "CONNECT, SUBSCRIBE (name, +, #, short, predefined)", connect_subscribe)

        def by_name():
            err, cmd = pub_ok(["-t", "interop/name", "-m", "by-name"])
            check("REGACK return code: 0x00" in err, f"no REGACK 0x00 in mqtt-sn-pub's log: {err[-300:]}")
            check(sub.wait_message("interop/name", "by-name"), "subscriber did not get it")
            return "worked", "REGISTER -> REGACK 0x00, PUBLISH QoS 0, DISCONNECT answered; subscriber got it", cmd
        table.run(C, "REGISTER + PUBLISH QoS 0 -> SUBSCRIBE by name", by_name)

        def qos1():
            err, cmd = pub_ok(["-q", "1", "-t", "interop/name", "-m", "qos1"])
            check("Received PUBACK" in err, "no PUBACK")
            check(sub.wait_message("interop/name", "qos1"), "subscriber did not get it")
            return "worked", "PUBACK received (its return code is checked on the wire below)", cmd
        table.run(C, "PUBLISH QoS 1", qos1)

        def wild():
            _, cmd1 = pub_ok(["-t", "interop/wild/x", "-m", "plus"])
            _, cmd2 = pub_ok(["-t", "interop/deep/a/b", "-m", "hash"])
            check(sub.wait_message("interop/wild/x", "plus"), "no copy under interop/wild/+")
            check(sub.wait_message("interop/deep/a/b", "hash"), "no copy under interop/deep/#")
            regs = [ln.split("Registering topic ")[-1] for ln in sub.log() if "Registering topic" in ln
                    and ("interop/wild/x" in ln or "interop/deep/a/b" in ln)]
            check(len(regs) == 2, f"expected one gateway REGISTER per new name, the client logged {regs}")
            return "worked", f"gateway REGISTER ({'; '.join(regs)}) answered by REGACK, then PUBLISH", \
                f"{cmd1}; {cmd2}"
        table.run(C, "wildcards + and # (gateway REGISTER)", wild)

        def short_topic():
            _, cmd1 = pub_ok(["-t", "ab", "-m", "short-q0"])
            check(sub.wait_message("ab", "short-q0"), "no copy of the short-name publish")
            return "worked", "short topic name 'ab' (topic id type 2) both ways", cmd1
        table.run(C, "short topic name", short_topic)

        def predefined():
            _, cmd1 = pub_ok(["-q", "1", "-T", str(PREDEFINED_ID), "-m", "predef-q1"])
            check(sub.wait_message("%04x" % PREDEFINED_ID, "predef-q1"), "no copy of the predefined publish")
            return "worked", f"predefined id {PREDEFINED_ID} ({PREDEFINED_NAME}) both ways, QoS 1", cmd1
        table.run(C, "predefined topic id", predefined)

        def qos_m1():
            rc1, _, e1, cmd1 = pub(["-q", "-1", "-t", "ab", "-m", "short-m1"])
            rc2, _, e2, cmd2 = pub(["-q", "-1", "-T", str(PREDEFINED_ID), "-m", "predef-m1"])
            check(rc1 == 0 and rc2 == 0, f"mqtt-sn-pub exited {rc1}, {rc2}")
            check(sub.wait_message("ab", "short-m1"), "no copy of the QoS -1 short-name publish")
            check(sub.wait_message("%04x" % PREDEFINED_ID, "predef-m1"), "no copy of the QoS -1 predefined publish")
            return "worked", "no CONNECT; short name and predefined id delivered", f"{cmd1}; {cmd2}"
        table.run(C, "PUBLISH QoS -1", qos_m1)

        def sub_qos1_keepalive():
            _, cmd = pub_ok(["-q", "1", "-t", "interop/q1/late", "-m", "q1-copy"])
            check(subq1.wait_message("interop/q1/late", "q1-copy"), "the QoS 1 subscriber did not get it")
            check(subq1.count("Sending PUBACK") >= 1, "the QoS 1 subscriber sent no PUBACK")
            pings = wait_until("two PINGREQ/PINGRESP rounds of the keepalive-2 s subscriber",
                               lambda: (lambda n, r: (n, r) if n >= 2 and r >= 2 else None)(
                                   subq1.count("Sending PINGREQ"), subq1.count("Type=PINGRESP")), timeout=8)
            check(subq1.proc.poll() is None, "the keepalive-2 s subscriber exited (keepalive error)")
            _, cmd2 = pub_ok(["-q", "1", "-t", "interop/q1/after", "-m", "after-pings"])
            check(subq1.wait_message("interop/q1/after", "after-pings"), "no copy after the keepalive rounds")
            return "worked", (f"QoS 1 copy acked by the client; {pings[0]} PINGREQ -> {pings[1]} PINGRESP over "
                              f"the session, still delivered after"), f"{subq1.cmd}; {cmd}; {cmd2}"
        table.run(C, "SUBSCRIBE QoS 1, keepalive (PINGREQ)", sub_qos1_keepalive)

        def empty_and_max():
            _, cmd1 = pub_ok(["-n", "-t", "interop/name"])
            check(sub.wait_message("interop/name", ""), "no copy of the empty message")
            body = "".join(chr(0x41 + i % 26) for i in range(200))
            _, cmd2 = pub_ok(["-t", "interop/name", "-m", body])
            check(sub.wait_message("interop/name", body), "no copy of the 200-byte message")
            return "worked", "zero-length payload and a 200-byte payload delivered intact", \
                f"{cmd1}; {cmd2.replace(body, '<200 bytes A..Z>')}"
        table.run(C, "empty / large payload", empty_and_max)

        def bad_predefined():
            rc, _, err, cmd = pub(["-q", "1", "-T", "999", "-m", "nobody"])
            check(rc == 0 and "Received PUBACK" in err, f"mqtt-sn-pub exited {rc}")
            return "client", ("PUBACK 0x02 (invalid topic id) on the wire (checked below); mqtt-sn-pub does not "
                              "read the return code and reports success"), cmd
        table.run(C, "unknown predefined id", bad_predefined)

        def retained():
            _, cmd1 = pub_ok(["-r", "-t", "interop/retained", "-m", "kept"])
            late = Sub(lab, tools, ["-i", "interop-late", "-k", "10", "-t", "interop/retained"], 1)
            try:
                late.ready()
                got = late.wait_message("interop/retained", "kept", timeout=2)
            finally:
                late.stop()
            check(got, "a subscriber that came after the retained PUBLISH did not get it (6.7 retain flag)")
            return "worked", "a later subscriber got the retained message", f"{cmd1}; {late.cmd}"
        table.run(C, "retained (-r)", retained)

        tools_resume_checks(lab, dp, tools, table, pub_ok)

        def forwarder():
            before = dp.snapshot()
            rc, _, err, cmd = pub(["--fe", "--wlnid", "7", "-t", "interop/name", "-m", "via-forwarder"], timeout=15)
            check(rc == 0, f"mqtt-sn-pub --fe exited {rc}: {err[-300:]}")
            check(sub.wait_message("interop/name", "via-forwarder"), "the publish through the forwarder was not "
                  "delivered to the subscriber")
            ev = stats_delta(before, dp.snapshot(), "events")
            check(ev.get("encapsulated_rx", 0) >= 3 and ev.get("encapsulated_tx", 0) >= 2,
                  f"encapsulated_rx/tx did not count the exchange: {ev}")
            return "worked", (f"encapsulated CONNECT/REGISTER/PUBLISH/DISCONNECT (node id '7') answered encapsulated "
                              f"(encapsulated_rx +{ev.get('encapsulated_rx', 0)}, encapsulated_tx "
                              f"+{ev.get('encapsulated_tx', 0)}), delivered"), cmd
        table.run(C, "forwarder encapsulation (--fe)", forwarder)

        def keepalive_zero():
            rc, _, err, cmd = pub(["-k", "0", "-t", "interop/name", "-m", "k0"])
            check(rc == 3 and "CONNACK return code: 0x03" in err, f"mqtt-sn-pub -k 0 exited {rc}: {err[-300:]}")
            return "refused", ("policy: keepalive 0 refused with CONNACK 0x03 (security.keepalive_zero: false); "
                               "the client exits 3 'Rejected: not supported'"), cmd
        table.run(C, "keepalive 0", keepalive_zero)

        def disconnect():
            rc1 = sub.stop()
            rc2 = subq1.stop()
            check(rc1 == 0 and sub.disconnected(), f"subscriber exit {rc1}, DISCONNECT answered {sub.disconnected()}")
            check(rc2 == 0 and subq1.disconnected(), f"QoS 1 subscriber exit {rc2}")
            return "worked", "DISCONNECT answered with DISCONNECT (every client above too)", "kill -TERM <mqtt-sn-sub>"
        table.run(C, "DISCONNECT", disconnect)
    finally:
        sub.stop()
        subq1.stop()


# ---------------------------------------------------------------------------------------------
# Eclipse Paho MQTT-SN embedded C, MQTTSNPacket samples

class RawSub:
    """Our raw client subscribed to the names the Paho samples publish on (the receiver of their messages)."""

    def __init__(self, lab):
        self.c = RawClient(lab, timeout=0.2)
        check(self.c.connect("interop-raw") == 0, "raw subscriber: CONNACK refused")
        self.names = {}
        for name in ("tt", "a long topic name"):
            tid, rc = self.c.subscribe(name, F_QOS0)
            check(rc == 0, f"raw subscriber: SUBACK rc {rc} for {name}")
            self.names[tid] = name
        self.got = []

    def drain(self, timeout):
        end = time.monotonic() + scaled(timeout)
        while time.monotonic() < end:
            m = self.c.recv(0.1)
            if m is None:
                continue
            t, body = m
            if t == REGISTER:
                tid, mid = struct.unpack("!HH", body[:4])
                self.names[tid] = body[4:].decode(errors="replace")
                self.c.send(m_regack(tid, mid))
            elif t == PUBLISH:
                flags, tid = struct.unpack("!BH", body[:3])
                name = body[1:3].decode(errors="replace") if flags & 3 == 2 else self.names.get(tid, tid)
                self.got.append((name, body[5:].decode(errors="replace")))

    def wait(self, name, payload, timeout=3):
        n = self.got.count((name, payload))

        def more():
            self.drain(0.1)
            return self.got.count((name, payload)) > n
        return wait_until(f"a copy on {name}", more, timeout=timeout, fail=False)


def paho_checks(lab, dp, paho, table, raw):
    C = "paho MQTTSNPacket"

    def sample(name, timeout=5):
        argv = ["stdbuf", "-oL", os.path.join(paho, name), lab.appliance_ip, "1883"]
        rc, out, err = run_client(lab, argv, timeout)
        return rc, out, short(argv, paho)

    def qos0():
        rc, out, cmd = sample("qos0pub")
        check("connected rc 0" in out, f"no CONNACK 0: {out!r}")
        check(raw.wait("tt", PAHO_PAYLOAD), "no copy on the short name 'tt'")
        return "worked", "CONNECT, PUBLISH QoS 0 on short name 'tt' delivered (the sample never disconnects)", cmd
    table.run(C, "qos0pub: CONNECT + PUBLISH QoS 0 (short)", qos0)

    def qos1():
        rc, out, cmd = sample("qos1pub")
        check("puback received" in out, f"no PUBACK: {out!r}")
        check(raw.wait("tt", PAHO_PAYLOAD), "no copy on 'tt'")
        return "worked", "PUBACK 0x00 ('puback received, id 1'), delivered, DISCONNECT", cmd
    table.run(C, "qos1pub: PUBLISH QoS 1 (short)", qos1)

    def qos_m1():
        rc, out, cmd = sample("qos-1pub")
        check(rc == 0, f"exit {rc}: {out!r}")
        check(raw.wait("tt", PAHO_PAYLOAD), "no copy on 'tt'")
        return "worked", "PUBLISH QoS -1 on 'tt' without a connection, delivered", cmd
    table.run(C, "qos-1pub: PUBLISH QoS -1 (short)", qos_m1)

    def qos_m1_ext():
        before = dp.snapshot()
        rc, out, cmd = sample("qos-1pub_extended")
        if raw.wait("a long topic name", PAHO_PAYLOAD, timeout=1):
            return "worked", "QoS -1 with the topic name inside the PUBLISH delivered", cmd
        drops = stats_delta(before, dp.snapshot(), "drops")
        check(drops.get("mqttsn_bad_topic", 0) == 1, f"not delivered, and not dropped as mqttsn_bad_topic: {drops}")
        return "refused", ("Paho's extension (QoS -1 PUBLISH with TopicIdType 0 and the name inline) is outside "
                           "v1.2 (6.8: QoS -1 takes predefined ids or short names): dropped, mqttsn_bad_topic"), cmd
    table.run(C, "qos-1pub_extended: QoS -1 with a long name", qos_m1_ext)

    def pub0sub1():
        rc, out, cmd = sample("pub0sub1")
        if "publish received" in out:
            return "worked", "SUBSCRIBE QoS 2 granted, PUBLISH QoS 1 acked, own message received", cmd
        check("Subscribing" in out and "suback" not in out.lower() and "granted" not in out,
              f"unexpected output {out!r}")
        return "client", ("SUBSCRIBE (QoS 2) is answered first by the address-proof REGISTER (security.md); the "
                          "sample reads one packet, not a SUBACK, and ends: it does not handle a gateway REGISTER "
                          "(6.10). Without the proof: see the next row"), cmd
    table.run(C, "pub0sub1: SUBSCRIBE QoS 2 (address proof on)", pub0sub1)

    def register():
        before = dp.snapshot()
        rc, out, cmd = sample("qos0pub_register", timeout=3)
        drops = stats_delta(before, dp.snapshot(), "drops")
        if "regack topic id" in out:
            return "worked", "REGISTER, then QoS 0 PUBLISHes every second", cmd
        check("Unable to connect, return code 3" in out,
              f"the CONNECT with a 33-character ClientId was not answered CONNACK 0x03: exit {rc}: {out!r}; "
              f"drops {drops}")
        return "refused", ("its ClientId 'd:quickstart:udptest:9002f7f1ad23' has 33 characters (5.3.1: "
                           "1-23): CONNACK 0x03, the sample ends 'Unable to connect, return code 3'"), cmd
    table.run(C, "qos0pub_register: CONNECT (33-char ClientId) + REGISTER", register)


def paho_no_proof_checks(lab, dp, paho, table, pcap):
    C = "paho MQTTSNPacket"

    def pub0sub1():
        argv = ["stdbuf", "-oL", os.path.join(paho, "pub0sub1"), lab.appliance_ip, "1883"]
        rc, out, err = run_client(lab, argv, 5)
        cmd = short(argv, paho) + "   (dataplane with security.address_proof: false)"
        if "publish received" in out:
            return "worked", "SUBSCRIBE QoS 2 granted 2, PUBLISH QoS 1 acked, own message received back", cmd
        check("suback topic id" in out, f"SUBSCRIBE QoS 2 not granted QoS 2 with rc 0: {out!r}")
        check(rc == 0 and out.rstrip().endswith("Publishing"), f"exit {rc}: {out!r}")
        # the sample reads exactly one datagram after its PUBLISH and wants the PUBACK: what came first?
        time.sleep(scaled(0.5))  # tshark writes its file in blocks
        rows = tshark_fields(pcap, ["mqttsn.msg.type", "mqttsn.return.code"],
                             f"ip.src == {lab.appliance_ip} && (mqttsn.msg.type == 0x0c || mqttsn.msg.type == 0x0d)")
        types = [int(r[0].split(",")[0], 0) for r in rows]
        check(types[:2] == [0x0C, 0x0D] and rows[1][1] and int(rows[1][1], 0) == 0,
              f"after the sample's PUBLISH the appliance sent {rows[:2]} (expected its copy, then PUBACK 0x00)")
        return "client", ("SUBSCRIBE QoS 2 granted QoS 2 (SUBACK flags 0x40); the sample then PUBLISHes QoS 1 to its "
                          "own topic: the appliance sends the copy (QoS 1) 10-20 us before the PUBACK 0x00, and the "
                          "sample, which reads one datagram and wants the PUBACK, ends there. The spec orders "
                          "neither (6.6, 6.10)"), cmd
    table.run(C, "pub0sub1: SUBSCRIBE QoS 2 (address proof off)", pub0sub1)


# ---------------------------------------------------------------------------------------------
# Eclipse Paho MQTT-SN GatewayTester

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class GroupRoute:
    """In the lab's client namespace, for the length of a with-block: a route for 224.0.0.0/4 out of the client's
    veth. The namespace has no default route, and the GatewayTester joins GWTESTER_GROUP and sends its SEARCHGW
    there with INADDR_ANY as the interface, which the kernel resolves by the route to the group."""

    def __init__(self, lab):
        self.lab = lab

    def __enter__(self):
        self.lab.run(["ip", "route", "replace", "224.0.0.0/4", "dev", self.lab.cl_if])
        return self

    def __exit__(self, *exc):
        self.lab.run(["ip", "route", "del", "224.0.0.0/4", "dev", self.lab.cl_if], check_rc=False)
        return False


class GwTester:
    """The interactive GatewayTester on a pseudo-terminal in the lab namespace. It asks "y/n" before each
    step of its TEST_LIST; step() answers once the prompt is up and waits for the step's markers."""

    def __init__(self, lab, path):
        self.path = path
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.proc = subprocess.Popen(in_ns(lab, [path]), stdin=slave, stdout=slave, stderr=slave,
                                     cwd=os.path.dirname(path), start_new_session=True)
        os.close(slave)
        self.fd = master
        self.buf = ""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.wait(lambda t: "Do you like" in t, "its first prompt", 10)
        self.send("y\n")

    def _read(self):
        while True:
            try:
                b = os.read(self.fd, 65536)
            except OSError:
                return
            if not b:
                return
            with self.lock:
                self.buf += b.decode(errors="replace")

    def text(self, start=0):
        with self.lock:
            return ANSI.sub("", self.buf)[start:]

    def send(self, s):
        os.write(self.fd, s.encode())

    def wait(self, cond, what, timeout):
        """cond(text) until true; the tester ending first (it exits after its last step) is fine when the
        condition holds on what it printed before."""
        def ready():
            ended = self.proc.poll() is not None
            if ended:
                self.reader.join(timeout=2)
            return cond(self.text()) or (ended and "ended")
        r = wait_until(f"GatewayTester: {what}", ready, timeout=timeout, fail=False)
        if r == "ended":
            raise fail(f"GatewayTester exited {self.proc.returncode} waiting for {what}: ...{self.text()[-600:]}")
        return r

    def step(self, prefix, expect=(), timeout=15, run=True):
        """Answer the prompt of the step whose label starts with `prefix` (y to run it, n to skip it). Returns
        (text of the step so far, True when `complete` and every pattern of `expect` showed up in time)."""
        pat = re.compile(r'Execute "' + re.escape(prefix))
        if not self.wait(lambda t: pat.search(t), f"the prompt of {prefix}", 30):
            raise fail(f"GatewayTester never asked for {prefix}: ...{self.text()[-600:]}")
        start = len(self.text())
        self.send("y\n" if run else "n\n")
        if not run:
            self.wait(lambda t: re.search(re.escape(prefix) + r".* is canceled", t[start:]), f"{prefix} skipped", 10)
            return "", True
        done = re.compile(r"\*\*\*\* " + re.escape(prefix) + r"[^*]* complete \*\*\*\*")
        ok = self.wait(lambda t: done.search(t[start:]) and all(e in t[start:] for e in expect),
                       f"{prefix} to complete with {list(expect)}", timeout)
        return self.text(start), bool(ok)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=scaled(5))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.close(self.fd)
        except OSError:
            pass
        self.reader.join(timeout=2)


def received(seg, *hexbytes):
    """Whether the tester logged receiving a datagram that starts with these bytes ("recved ADDR :1883  xx ...")."""
    want = " ".join(hexbytes)
    return any(ln.split(":1883", 1)[-1].strip().startswith(want) for ln in seg.splitlines() if "recved" in ln)


def group_gwinfo(pcap, lab):
    """The GWINFOs from the appliance in the capture so far: (destination, UDP destination port, gateway id)."""
    time.sleep(scaled(0.5))  # tshark writes its file in blocks
    rows = tshark_fields(pcap, ["ip.dst", "udp.dstport", "mqttsn.gw.id"],
                         f"ip.src == {lab.appliance_ip} && mqttsn.msg.type == 0x02")
    return [tuple(r) for r in rows]


def gwtester_checks(lab, dp, gwt, table, pcap):
    C = "paho GatewayTester"
    stock = os.path.join(gwt, "MQTT-SNGatewayTester")
    cmd = short([stock], gwt) + f"   (answer y to each step; discovery.destination {GWTESTER_GROUP}:1883)"
    before = dp.snapshot()
    t = GwTester(lab, stock)
    try:
        def row(feature, prefix, expect, judge, timeout=15, **kw):
            def fn():
                seg, ok = t.step(prefix, expect, timeout=timeout, **kw)
                return judge(seg, ok)
            table.run(C, feature, fn)

        def need(seg, ok, what):
            if not ok:
                raise fail(f"{what}: ...{seg[-700:]}", cmd)

        def step0(seg, ok):
            need(seg, ok, "no connection")
            after = dp.snapshot()
            ev = stats_delta(before, after, "events")
            searches = stats_delta(before, after, "mqttsn_rx").get("SEARCHGW", 0)
            check(re.search(rf"sendto {re.escape(GWTESTER_GROUP)}\s*:1883\s+03 01 00", seg),
                  f"the tester logged no SEARCHGW to {GWTESTER_GROUP}:1883: ...{seg[-700:]}")
            check(re.search(rf"recved {re.escape(lab.appliance_ip)}\s*:1883\s+03 02 01", seg),
                  f"the tester logged no GWINFO (gw id 1) from {lab.appliance_ip}:1883: ...{seg[-700:]}")
            check(searches >= 1 and ev.get("gwinfo_broadcast", 0) >= 1 and not ev.get("gwinfo_broadcast_limited"),
                  f"the dataplane took {searches} SEARCHGW and answered to the group {ev.get('gwinfo_broadcast', 0)} "
                  f"times ({ev.get('gwinfo_broadcast_limited', 0)} over budget): events {ev}")
            gw = group_gwinfo(pcap, lab)
            check((GWTESTER_GROUP, "1883", "1") in gw and all(r[0] == GWTESTER_GROUP for r in gw),
                  f"GWINFOs from the appliance on the wire (destination, port, gw id): {gw}; want each to "
                  f"{GWTESTER_GROUP}:1883 with gw id 1")
            return "worked", (f"SEARCHGW `03 01 00` to {GWTESTER_GROUP}:1883 ({searches} taken by the dataplane) -> "
                              f"GWINFO `03 02 01` from the appliance to the group, port 1883 (events "
                              f"gwinfo_broadcast +{ev['gwinfo_broadcast']}; on the wire to {GWTESTER_GROUP}); "
                              "CONNECT to the appliance -> CONNACK 0x00"), cmd
        row("discovery + CONNECT (Step0)", "Step0:", ["recv GWINFO", "Connected to the Broker"], step0, timeout=40)

        def step1(seg, ok):
            need(seg, ok, "subscriptions not granted")
            check(received(seg, "08 13 20"), "no SUBACK granting QoS 1")
            return "worked", ("two SUBSCRIBEs QoS 1 back to back, each answered by the proof REGISTER, which the "
                              "client acks; SUBACKs grant QoS 1"), ""
        row("SUBSCRIBE QoS 1 by name (Step1)", "Step1:", ['"ty4tw/topic1" Id', '"ty4tw/topic2" Id'], step1)

        def step2(seg, ok):
            need(seg, ok, "no SUBACK for predefined id 1")
            return "worked", "SUBSCRIBE predefined id 1: SUBACK 0x00, id 1", ""
        row("SUBSCRIBE predefined (Step2)", "Step2:", ["Id : 1 was Subscribed"], step2)

        def step3(seg, ok):
            need(seg, ok, "own QoS 0 publish not received")
            return "worked", "PUBLISH QoS 0 on ty4tw/topic1 (the id from its SUBACK), delivered back", ""
        row("PUBLISH QoS 0 (Step3)", "Step3:", ["Topic1 recv."], step3)

        def step4(seg, ok):
            need(seg, ok, "QoS 1 publish not acked or not delivered back")
            check(received(seg, "07 0d") and received(seg, "1f 0c 20"), "no PUBACK or no QoS 1 copy")
            return "worked", "PUBLISH QoS 1: PUBACK 0x00; the QoS 1 copy delivered back and PUBACKed", ""
        row("PUBLISH QoS 1 (Step4)", "Step4:", ["Topic2 recv.", "was Published"], step4)

        def step5(seg, ok):
            need(seg, ok, "no SUBACK for the unknown predefined id 10")
            check(received(seg, "08 13") and re.search(r"08 13 \S\S \S\S \S\S \S\S \S\S 02", seg),
                  "SUBACK return code is not 0x02 (invalid topic id)")
            return "worked", ("SUBSCRIBE predefined id 10 (not configured): SUBACK 0x02 invalid topic id (the "
                              "client logs it as 'SUBACK Invalid messageId')"), ""
        row("SUBSCRIBE unknown predefined (Step5)", "Step5:", ["recv SUBACK"], step5)
        t.step("Step6:", ["Topic2 recv."])

        def step7(seg, ok):
            need(seg, ok, "no UNSUBACK")
            seg8, ok8 = t.step("Step8:", ["was Published"])
            need(seg8, ok8, "publish after UNSUBSCRIBE not acked")
            check("Topic2 recv." not in seg8, "a copy arrived after the UNSUBSCRIBE")
            return "worked", "UNSUBSCRIBE -> UNSUBACK; the next PUBLISH on the name is acked and not delivered", ""
        row("UNSUBSCRIBE (Step7, Step8)", "Step7:", ["was Unsubscribed"], step7)

        def step9(seg, ok):
            need(seg, ok, "re-subscription failed")
            seg10, ok10 = t.step("Step10:", ["Topic2 recv."])
            need(seg10, ok10, "no copy after the new SUBSCRIBE")
            return "worked", "SUBSCRIBE again (the proven session: SUBACK at once), copies flow again", ""
        row("SUBSCRIBE again (Step9, Step10)", "Step9:", ["was Subscribed"], step9)

        def step11(seg, ok):
            need(seg, ok, "no answer to DISCONNECT with a duration")
            check(received(seg, "02 18"), "the DISCONNECT(300) was not answered by DISCONNECT")
            seg12, _ = t.step("Step12:", ["complete"])
            check(not received(seg12, "02 18"), "the client, asleep, got DISCONNECT (no session) for its PUBLISH: "
                  f"the DISCONNECT with a duration ended the session: ...{seg12[-700:]}")
            return "worked", ("DISCONNECT with Duration 300 answered by DISCONNECT, the client asleep; its QoS 0 "
                              "PUBLISH while asleep (it does not wake first) is not refused"), ""
        row("sleep (Step11, Step12)", "Step11:", ["Get into SLEEP mode"], step11)
        t.step("Step13:", run=False)  # DISCONNECT from a client without a session: unanswered, ~40 s of retries
        t.step("Step14:", run=False)

        def step15(seg, ok):
            need(seg, ok, "no reconnection")
            check(received(seg, "03 05 00"), "the new CONNECT was not accepted")
            seg16, ok16 = t.step("Step16:", ["was Published"])
            need(seg16, ok16, "PUBLISH after the reconnection not acked")
            if received(seg16, "07 0d") and re.search(r"07 0d \S\S \S\S \S\S \S\S 02", seg16):
                return "client", ("CONNECT (CleanSession) -> CONNACK 0x00; the client PUBLISHes QoS 1 with the topic "
                                  "id of its previous session: PUBACK 0x02 invalid topic id, it REGISTERs the name "
                                  "again and the PUBLISH is acked (6.5)"), ""
            return "worked", "CONNECT again -> CONNACK 0x00; PUBLISH QoS 1 acked", ""
        row("reconnect (Step15, Step16)", "Step15:", ["recv CONNACK"], step15, timeout=40)
        t.step("Step17:")
        t.step("Step18:", ["was Published"])

        def step19(seg, ok):
            need(seg, ok, "DISCONNECT not answered")
            return "worked", "DISCONNECT answered by DISCONNECT", ""
        row("DISCONNECT (Step19)", "Step19:", ["recv DISCONNECT"], step19)
    except TestFailure as e:  # a step that never came: the rest of the scenario cannot run
        table.add(C, "its test scenario", "FAILED", f"stopped: {e}", cmd)
    finally:
        t.stop()

    will = os.path.join(gwt, "MQTT-SNGatewayTester-will")
    wcmd = short([will], gwt) + "   (mainTest.cpp with WillTopic interop/will, WillMessage gone)"

    def will_connect():
        w = GwTester(lab, will)
        try:
            seg, ok = w.step("Step0:", ["Connected to the Broker"], timeout=20)
        finally:
            w.stop()
        check(ok and received(seg, "02 06") and received(seg, "02 08") and received(seg, "03 05 00"),
              f"CONNECT with the Will flag not answered WILLTOPICREQ, WILLMSGREQ, CONNACK 0x00 (6.2): ...{seg[-700:]}")
        return "worked", "CONNECT with Will -> WILLTOPICREQ, WILLTOPIC, WILLMSGREQ, WILLMSG -> CONNACK 0x00", wcmd
    table.run(C, "CONNECT with a will (-will)", will_connect)

    qos2 = os.path.join(gwt, "MQTT-SNGatewayTester-qos2")
    qcmd = short([qos2], gwt) + "   (mainTest.cpp with topic1 subscribed and published at QoS 2)"

    def qos2_run():
        q = GwTester(lab, qos2)
        try:
            seg0, ok0 = q.step("Step0:", ["Connected to the Broker"], timeout=40)
            check(ok0, f"no connection: ...{seg0[-500:]}")
            seg1, ok1 = q.step("Step1:", ['"ty4tw/topic1" Id', '"ty4tw/topic2" Id'])
            check(ok1, f"subscriptions failed: ...{seg1[-500:]}")
            q.step("Step2:", run=False)
            seg3, ok3 = q.step("Step3:", ["Topic1 recv."], timeout=45)
        finally:
            q.stop()
        check(received(seg1, "08 13 40"), f"the QoS 2 SUBSCRIBE was not granted QoS 2: ...{seg1[-700:]}")
        # gateway -> client: PUBREC (04 0f) for its PUBLISH, PUBCOMP (04 0e) for its PUBREL, its copy at QoS 2
        # (PUBLISH flags 0x40), and PUBREL (04 10) once the client answers that copy with PUBREC
        check(ok3 and received(seg3, "04 0f") and received(seg3, "04 0e"),
              f"PUBLISH QoS 2 not answered PUBREC, PUBREL not answered PUBCOMP: ...{seg3[-900:]}")
        check(received(seg3, "1f 0c 40"), f"the copy did not come back at QoS 2: ...{seg3[-900:]}")
        if received(seg3, "04 10"):
            return "worked", ("SUBSCRIBE QoS 2 granted 2; its PUBLISH QoS 2 -> PUBREC, PUBREL -> PUBCOMP; the copy "
                              "comes back at QoS 2, PUBREC -> PUBREL, PUBCOMP"), qcmd
        return "client", ("SUBSCRIBE QoS 2 granted 2 (SUBACK flags 0x40); its PUBLISH QoS 2 -> PUBREC, its PUBREL -> "
                          "PUBCOMP, 'was Published'; the copy comes back at QoS 2 (1f 0c 40 ...), which the client "
                          "hands to its callback without a PUBREC (its LPublishManager::published() acks QoS 1 "
                          "copies only), so the appliance resends it with DUP until its retry limit"), qcmd
    table.run(C, "QoS 2 (-qos2)", qos2_run)


# ---------------------------------------------------------------------------------------------
# tshark: what the appliance sent

def wire_checks(pcap, lab, table, expect_bad_pubacks, expect_retained):
    C = "tshark"

    def decode():
        summary, detail = tshark_problems(pcap, lab.appliance_ip)
        check(not summary, f"malformed or expert errors in what the appliance sent:\n{summary}\n{detail[:3000]}")
        rows = tshark_fields(pcap, ["mqttsn.msg.type"], f"ip.src == {lab.appliance_ip} && mqttsn")
        types = sorted({harness.MQTTSN_TYPE_NAMES.get(int(v, 0), v) for r in rows for v in r[0].split(",") if v})
        return "worked", f"{len(rows)} messages from the appliance decode cleanly: {', '.join(types)}", \
            f"tshark -r interop.pcap -d udp.port==1883,mqttsn -Y 'ip.src=={lab.appliance_ip}'"
    table.run(C, "appliance output decodes", decode)

    def pubacks():
        rows = tshark_fields(pcap, ["mqttsn.topic.id", "mqttsn.return.code"],
                             f"ip.src == {lab.appliance_ip} && mqttsn.msg.type == 0x0d")
        rcs = [int(r[1], 0) for r in rows]
        n = {rc: rcs.count(rc) for rc in set(rcs)}
        check(n.get(2, 0) == expect_bad_pubacks and set(n) <= {0, 2},
              f"PUBACK return codes {n} (expected {expect_bad_pubacks} x 0x02 'invalid topic id' for unknown ids, "
              "the rest 0x00)")
        return "worked", f"{len(rows)} PUBACKs: {n.get(0, 0)} x 0x00, {n.get(2, 0)} x 0x02 (unknown ids)", ""
    table.run(C, "PUBACK return codes", pubacks)

    def retain_flag():
        rows = tshark_fields(pcap, ["udp.dstport", "mqttsn.topic.id"],
                             f"ip.src == {lab.appliance_ip} && mqttsn.msg.type == 0x0c && mqttsn.retain == 1")
        check(len(rows) == expect_retained, f"{len(rows)} PUBLISHes from the appliance with the retain flag "
              f"(expected {expect_retained}: the retained message sent on SUBSCRIBE, 6.7)")
        return "worked", (f"{len(rows)} PUBLISH with the retain flag (flags 0x10): the retained message sent on "
                          "the later SUBSCRIBE; live copies go out without it"), ""
    if expect_retained:
        table.run(C, "retained copy carries the retain flag", retain_flag)

    def register_order():
        rows = tshark_fields(pcap, ["frame.number", "ip.src", "udp.srcport", "udp.dstport", "mqttsn.msg.type",
                                    "mqttsn.topic.id", "mqttsn.msg.id"], "mqttsn")
        pending = {}  # (client port, topic id) -> frame of the gateway REGISTER not yet acked
        early = []
        n = 0
        for fr, src, sport, dport, types, tids, mids in rows:
            t = int(types.split(",")[0], 0)
            tid = tids.split(",")[0]
            if src == lab.appliance_ip and t == 0x0A:
                pending[(dport, int(tid, 0))] = fr
                n += 1
            elif src != lab.appliance_ip and t == 0x0B:
                pending.pop((sport, int(tid, 0)), None)
            elif src == lab.appliance_ip and t == 0x0C and tid and (dport, int(tid, 0)) in pending:
                early.append(f"frame {fr}: PUBLISH id {tid} to port {dport} before the REGACK of frame "
                             f"{pending[(dport, int(tid, 0))]}")
        check(not early, "6.10: PUBLISH before REGACK: " + "; ".join(early[:5]))
        return "worked", f"{n} gateway REGISTERs; no PUBLISH of a registered id went out before its REGACK", ""
    table.run(C, "gateway REGISTER waits for REGACK", register_order)


# ---------------------------------------------------------------------------------------------

def main(args, clients):
    table = Table()
    tools, paho = clients.get("MQTTSN_TOOLS_DIR"), clients.get("PAHO_MQTTSN_DIR")
    gwt = clients.get("PAHO_GWTESTER_DIR")
    with Lab("interop") as lab:
        pcap_dir = harness.workdir("interop-pcap")
        pcap = os.path.join(pcap_dir, "interop.pcap")
        try:
            # discovery's multicast group, the one the GatewayTester searches on (only it searches)
            group = {"discovery.destination": f"{GWTESTER_GROUP}:1883"}
            with Capture(lab.cl_if, pcap, bpf="udp port 1883", ns=lab.ns), \
                    Dataplane("interop", lab, overrides=group) as dp:
                if tools:
                    tools_checks(lab, dp, tools, table)
                if paho:
                    raw = RawSub(lab)
                    try:
                        paho_checks(lab, dp, paho, table, raw)
                    finally:
                        raw.c.close()
                if gwt:
                    with GroupRoute(lab):
                        gwtester_checks(lab, dp, gwt, table, pcap)
                stats = dp.stop()
                check_conservation(stats)
            # 0x02 "invalid topic id": mqtt-sn-pub's unknown predefined id; the GatewayTester's PUBLISH with the
            # id of its previous session after a clean reconnect (it then registers the name again)
            wire_checks(pcap, lab, table, expect_bad_pubacks=bool(tools) + bool(gwt), expect_retained=int(bool(tools)))
            if paho or tools:
                # A new dataplane knows no neighbour, while the namespace still holds its MAC: the reply to a
                # first datagram would go to an ARP miss and be dropped (no_neighbour), and a sample client
                # never retransmits. Forgetting the entry makes the client ask first, as a fresh one would.
                lab.run(["ip", "neigh", "flush", "dev", lab.cl_if])
                pcap2 = os.path.join(pcap_dir, "interop-noproof.pcap")
                with Capture(lab.cl_if, pcap2, bpf="udp port 1883", ns=lab.ns), \
                        Dataplane("interop-noproof", lab, overrides={"security.address_proof": False}) as dp:
                    if paho:
                        paho_no_proof_checks(lab, dp, paho, table, pcap2)
                    if tools:
                        tools_resume_checks(lab, dp, tools, table, tools_publisher(lab, tools, first=100)[1],
                                            proof=False)
                    check_conservation(dp.stop())
        finally:
            harness.remove_workdir(pcap_dir)
    failed = table.print()
    check(failed == 0, f"{failed} interop check(s) failed (table above)")


if __name__ == "__main__":
    found = client_dirs()
    run_test(lambda a: main(a, found), "interop: external MQTT-SN clients against the dataplane")
