#!/usr/bin/env python3
"""The MQTT broker bridge (docs/outputs.md) against a real mosquitto, through the lab.

One mosquitto (its own config in a temporary directory, persistence on) with three loopback
listeners: plain and anonymous; plain with a password file; TLS (a throwaway CA and server
certificate made with openssl) with the same password file. Four bridges in the dataplane:
  b311  plain, MQTT 3.1.1, ring 64, max_inflight 32; route up/# -> "site1/{topic}"; subscribes
        down/# (strip "down/", local prefix "from311/")
  b5    password, MQTT 5; route v5/# -> "site5/{topic}"; subscribes cmd5/# (no mapping)
  btls  TLS + password, MQTT 3.1.1; route sec/# -> "tls/{topic}"; subscribes tlsdown/# -> "fromtls/"
  bbad  a wrong password: refused, retried with backoff, counted
Checks:
  1. upstream: QoS 1 and QoS 0 publishes from an MQTT-SN client reach `mosquitto_sub` on the mapped
     topic with the same payload and QoS, over MQTT 3.1.1 and MQTT 5 subscribers, a password (MQTT 5
     bridge) and TLS;
  2. downstream: `mosquitto_pub` (3.1.1 and 5) on a subscribed upstream topic reaches an MQTT-SN
     subscriber on the mapped local topic, QoS 0 and QoS 1 (the subscriber gets a QoS 1 PUBLISH and
     acknowledges it), over each bridge;
  3. broker stopped mid-run (SIGTERM) under fanout-loadgen: the local subscriber loses nothing (no
     worker stall), the ring of 64 fills into counted ring_full drops, every bridge reconnects, and per
     route matched == written + failed + ring_full + pool_empty with backlog 0 once idle; then a quiet
     outage: 10 QoS 1 publishes made while the broker is down wait in the ring (backlog 10) and reach a
     persistent subscriber once it is back;
  4. in flight across a broker crash: mosquitto frozen (SIGSTOP) while 20 QoS 1 publishes go up, so
     they stay in flight without PUBACK; SIGKILL and a restart: libmosquitto sends them again on the
     new connection, each is written once in the counts and received;
  5. bbad: connect_failures grow with backoff, last_error names the refusal; OUTPUTS figures;
  6. the dataplane stopped with 32 QoS 1 publishes in flight to a frozen broker and 8 in the ring: it
     exits after the bridge's ~1 s flush, the exit stats count the 40 as discarded, every bridge and
     route balances; conservation of packets.
"""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (F_QOS0, F_QOS1, PUBACK, PUBLISH, REGISTER, Dataplane, Lab, RawClient, Resp,  # noqa: E402
                     TestFailure, check, check_conservation, end_process, free_tcp_port, lab_config, loadgen_bg, loadgen_wait,
                     log, m_puback, m_publish, m_regack, output_balanced, remove_workdir, route_balanced, run_test,
                     scaled, wait_routes_idle, wait_until, workdir)

USER, PW = "fanout", "br1dge-pw"


# ---------------------------------------------------------------------------------------------
# mosquitto and its clients

def make_tls(d):
    """A CA and a server certificate for 127.0.0.1 / localhost, made with openssl in d."""
    def run(*cmd):
        r = subprocess.run(list(cmd), cwd=d, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise TestFailure(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr}")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=fanout-e2e-ca")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=localhost")
    Path(d, "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "srv.crt", "-days", "2", "-extfile", "san.ext")
    return os.path.join(d, "ca.crt")


class Mosquitto:
    """mosquitto on three loopback listeners (anonymous, password, TLS + password), persistence
    on (autosaved every second) so sessions survive a restart."""

    def __init__(self):
        self.dir = workdir("mosquitto")
        self.plain, self.auth, self.tls = free_tcp_port(), free_tcp_port(), free_tcp_port()
        self.ca = make_tls(self.dir)
        pwfile = os.path.join(self.dir, "passwd")
        r = subprocess.run(["mosquitto_passwd", "-b", "-c", pwfile, USER, PW], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 0, f"mosquitto_passwd: {r.stderr}")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.log_path = os.path.join(self.dir, "mosquitto.log")
        Path(self.conf).write_text(
            "user root\n"
            "per_listener_settings true\n"
            f"persistence true\npersistence_location {self.dir}/\nautosave_interval 1\n"
            f"log_dest file {self.log_path}\nlog_type all\n"
            "max_queued_messages 100000\n"
            f"listener {self.plain} 127.0.0.1\nallow_anonymous true\n"
            f"listener {self.auth} 127.0.0.1\nallow_anonymous false\npassword_file {pwfile}\n"
            f"listener {self.tls} 127.0.0.1\nallow_anonymous false\npassword_file {pwfile}\n"
            f"cafile {self.ca}\ncertfile {self.dir}/srv.crt\nkeyfile {self.dir}/srv.key\n")
        self.proc = None

    def start(self):
        self._log = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=self._log, stderr=subprocess.STDOUT)
        wait_until("mosquitto to accept connections", self.ready, timeout=10)
        log(f"mosquitto up (pid {self.proc.pid}): plain :{self.plain}, password :{self.auth}, TLS :{self.tls}")
        return self

    def ready(self):
        r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.plain), "-t", "fo-e2e/ready",
                            "-m", "x"], capture_output=True, timeout=10)
        return r.returncode == 0

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM):
        self.proc = end_process(self.proc, sig)

    def print_log(self):
        try:
            print(f"----- mosquitto log ({self.log_path}) -----\n" + Path(self.log_path).read_text()[-6000:])
        except OSError:
            pass

    def client_args(self, where):
        """mosquitto_sub/pub connection arguments for listener `where` (plain, auth, tls)."""
        if where == "plain":
            return ["-h", "127.0.0.1", "-p", str(self.plain)]
        a = ["-h", "127.0.0.1", "-p", str(self.auth if where == "auth" else self.tls), "-u", USER, "-P", PW]
        return a + (["--cafile", self.ca] if where == "tls" else [])

    def pub(self, where, topic, payload, qos=0, version="mqttv311"):
        r = subprocess.run(["mosquitto_pub"] + self.client_args(where) +
                           ["-V", version, "-t", topic, "-m", payload, "-q", str(qos)],
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 0, f"mosquitto_pub {topic}: {r.stderr}")

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        if et is not None and not isinstance(ev, KeyboardInterrupt):
            self.print_log()
        self.stop(signal.SIGKILL)
        remove_workdir(self.dir)
        return False


class Sub:
    """mosquitto_sub -F '%q|%t|%p' in the background; lines collected as (qos, topic, payload).
    persistent: clean session off with a fixed client id (the broker queues QoS 1 for it)."""

    def __init__(self, broker, where, topic, version="mqttv311", qos=1, client_id=None):
        self.broker = broker
        self.where, self.topic, self.version, self.qos, self.client_id = where, topic, version, qos, client_id
        self.got = []
        self.lock = threading.Lock()
        self.proc = None

    def start(self):
        cmd = ["mosquitto_sub"] + self.broker.client_args(self.where) + \
              ["-V", self.version, "-t", self.topic, "-q", str(self.qos), "-F", "%q|%t|%p"]
        if self.client_id:
            cmd += ["-c", "-i", self.client_id]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     errors="replace")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def _read(self):
        for line in self.proc.stdout:
            parts = line.rstrip("\n").split("|", 2)
            if len(parts) == 3 and parts[0] in ("0", "1", "2"):  # (a binary payload may hold newlines)
                with self.lock:
                    self.got.append((int(parts[0]), parts[1], parts[2]))

    def messages(self):
        with self.lock:
            return list(self.got)

    def wait_ready(self, probe_topic):
        """Publish probes on probe_topic (the same listener) until the subscriber prints one."""
        def seen():
            self.broker.pub(self.where, probe_topic, "probe", 0, self.version)
            return any(t == probe_topic for _, t, _ in self.messages())
        wait_until(f"mosquitto_sub {self.topic} to be subscribed", seen, timeout=15, step=0.3)

    def wait_for(self, what, pred, timeout=10):
        return wait_until(what, lambda: pred(self.messages()), timeout=timeout, step=0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# ---------------------------------------------------------------------------------------------
# dataplane views

def routes(dp):
    with Resp(dp.ctl) as r:
        return {x["name"]: x for x in r.json("ROUTES")["stable"]}


def bridges(dp):
    with Resp(dp.ctl) as r:
        return {x["name"]: x for x in r.json("OUTPUTS")["bridges"]}


def wait_idle(dp, what, timeout=20):
    """Until every bridge route's backlog is empty and its counts balance; returns the routes."""
    return wait_routes_idle(lambda: routes(dp), "bridge", what, timeout)


def expect_publish(c, timeout=3.0):
    """The next PUBLISH to a raw MQTT-SN client (REGISTERs acknowledged on the way):
    (qos, topic id, msg id, payload)."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        check(left > 0, f"no PUBLISH within {timeout} s")
        m = c.recv(left)
        if m is None:
            continue
        mtype, body = m
        if mtype == REGISTER:
            tid, mid = int.from_bytes(body[0:2], "big"), int.from_bytes(body[2:4], "big")
            c.send(m_regack(tid, mid))
            continue
        check(mtype == PUBLISH, f"expected PUBLISH, got message type 0x{mtype:02x}")
        flags, tid, mid = body[0], int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big")
        return (flags >> 5) & 3, tid, mid, body[5:]


def publish_sn(c, tid, payload, qos_flag):
    """One publish from a raw MQTT-SN client; QoS 1 waits for its PUBACK (rc returned)."""
    mid = c.next_id()
    c.send(m_publish(tid, mid, payload.encode(), qos_flag))
    if qos_flag == F_QOS1:
        body = c.expect(PUBACK, timeout=3.0)
        return body[4]
    return 0


# ---------------------------------------------------------------------------------------------

def main(args):
    ctl_dir = workdir("bridge-ctl")
    try:
        run_all(args, ctl_dir)
    finally:
        remove_workdir(ctl_dir)


def run_all(args, ctl_dir):
    with Lab("brdg") as lab, Mosquitto() as mq:
        ctl = str(Path(ctl_dir) / "dp.sock")
        common = {"reconnect_min_ms": 100, "reconnect_max_ms": 800, "keepalive_s": 30}
        overrides = {
            "bridges": [
                dict({"name": "b311", "host": "127.0.0.1", "port": mq.plain, "protocol": "mqttv311",
                      "client_id": "fo-e2e-b311", "ring": 64, "max_inflight": 32,
                      "subscribe": [{"filter": "down/#", "qos": 1, "strip_prefix": "down/",
                                     "local_prefix": "from311/"}]}, **common),
                dict({"name": "b5", "host": "127.0.0.1", "port": mq.auth, "protocol": "mqttv5",
                      "client_id": "fo-e2e-b5", "username": USER, "password": PW,
                      "subscribe": [{"filter": "cmd5/#", "qos": 1}]}, **common),
                dict({"name": "btls", "host": "127.0.0.1", "port": mq.tls, "protocol": "mqttv311",
                      "client_id": "fo-e2e-btls", "username": USER, "password": PW,
                      "tls": {"ca_file": mq.ca},
                      "subscribe": [{"filter": "tlsdown/#", "qos": 0, "strip_prefix": "tlsdown/",
                                     "local_prefix": "fromtls/"}]}, **common),
                dict({"name": "bbad", "host": "127.0.0.1", "port": mq.auth, "client_id": "fo-e2e-bbad",
                      "username": USER, "password": "wrong"}, **common),
            ],
            "routes": [
                {"name": "r311", "filter": "up/#", "bridge": "b311", "topic": "site1/{topic}"},
                {"name": "r5", "filter": "v5/#", "bridge": "b5", "topic": "site5/{topic}"},
                {"name": "rtls", "filter": "sec/#", "bridge": "btls", "topic": "tls/{topic}"},
                {"name": "rbad", "filter": "bad/#", "bridge": "bbad", "topic": "{topic}"},
            ],
        }
        text = lab_config(f"{lab.appliance_ip}/24", lab.vdev().split(",")[0], overrides)
        with Dataplane("bridge", lab, config_text=text, extra_app=["--control", ctl]) as dp:
            dp.ctl = ctl
            try:
                run_checks(lab, mq, dp)
            except BaseException:
                try:
                    log(f"OUTPUTS at failure: {bridges(dp)}")
                    log(f"ROUTES at failure: {routes(dp)}")
                except Exception:
                    pass
                raise
            t0 = time.monotonic()
            stats = dp.stop()
            took = time.monotonic() - t0
            log(f"dataplane stop with 32 QoS 1 publishes in flight to a frozen broker and 8 in the ring: {took:.2f} s")
            check(took < scaled(8), f"the stop took {took:.1f} s (bridges give in-flight entries about 1 s)")
            check_conservation(stats)
            fin = {x["name"]: x for x in stats["outputs"]["bridges"]}
            froutes = {x["name"]: x for x in stats["routes"]["stable"]}
            f311 = fin["b311"]
            check(f311["discarded"] == 40 and f311["failed"] == 40 and f311["inflight"] == 0 and f311["backlog"] == 0,
                  f"exit stats, b311: discarded {f311['discarded']} failed {f311['failed']} "
                  f"inflight {f311['inflight']} "
                  f"backlog {f311['backlog']} (32 in flight to the frozen broker, 8 in the ring)")
            for name, x in fin.items():
                check(output_balanced(x),
                      f"exit stats, bridge {name}: " +
                      repr({k: x[k] for k in ('matched', 'written', 'dropped', 'backlog', 'discarded')}))
            for name, r in froutes.items():
                check(route_balanced(r), f"exit stats, route {name}: {r}")
            log("exit stats: b311 discarded the 40 entries it held or had in its ring; every bridge and route idle "
                "and balanced")


def run_checks(lab, mq, dp):
    wait_until("bridges b311, b5 and btls connected",
               lambda: all(bridges(dp)[n]["connected"] for n in ("b311", "b5", "btls")), timeout=15)
    b = bridges(dp)
    check(not b["bbad"]["connected"], "bbad connected with a wrong password")
    log("b311, b5, btls connected; bbad refused: " + repr(b["bbad"]["last_error"]))

    # 1. upstream: MQTT-SN publish -> mosquitto_sub on the mapped topic, payload and QoS kept
    pc = RawClient(lab)
    check(pc.connect("br-pub") == 0, "br-pub: CONNACK refused")
    cases = [  # (bridge listener, sub version, local topic, remote topic prefix)
        ("plain", "mqttv311", "up/a", "site1/"),
        ("plain", "mqttv5", "up/b", "site1/"),
        ("auth", "mqttv5", "v5/a", "site5/"),
        ("tls", "mqttv311", "sec/a", "tls/"),
    ]
    for where, version, local, prefix in cases:
        remote = prefix + local
        with Sub(mq, where, prefix + "#", version=version, qos=1) as s:
            s.wait_ready(prefix + "probe")
            tid = pc.register(local)
            rc1 = publish_sn(pc, tid, f"q1 on {local}", F_QOS1)
            check(rc1 == 0, f"{local}: PUBACK rc {rc1}")
            publish_sn(pc, tid, f"q0 on {local}", F_QOS0)
            got = s.wait_for(f"{remote}: both publishes at mosquitto_sub ({where}, {version})",
                             lambda ms: ms if sum(1 for _, t, _ in ms if t == remote) >= 2 else None)
            mine = [(q, p) for q, t, p in got if t == remote]
            check((1, f"q1 on {local}") in mine, f"{remote}: QoS 1 publish not received as QoS 1: {mine}")
            check((0, f"q0 on {local}") in mine, f"{remote}: QoS 0 publish not received as QoS 0: {mine}")
            check(len(mine) == 2, f"{remote}: {len(mine)} messages, expected 2: {mine}")
            log(f"upstream {local} -> {remote} ({where}, sub {version}): QoS 1 and QoS 0 received with their QoS")

    # 2. downstream: mosquitto_pub upstream -> MQTT-SN subscriber on the mapped local topic
    sc = RawClient(lab)
    check(sc.connect("br-sub") == 0, "br-sub: CONNACK refused")
    down = [  # (listener, pub version, remote topic, local topic, qos)
        ("plain", "mqttv311", "down/x", "from311/x", 1),
        ("plain", "mqttv5", "down/y", "from311/y", 0),
        ("auth", "mqttv5", "cmd5/z", "cmd5/z", 1),
        ("tls", "mqttv311", "tlsdown/w", "fromtls/w", 0),
    ]
    for where, version, remote, local, qos in down:
        tid, rc = sc.subscribe(local, F_QOS1)
        check(rc == 0, f"SUBSCRIBE {local}: rc {rc}")
        payload = f"from {where} on {remote}"
        deadline = time.monotonic() + scaled(10)
        while True:  # the bridge's own SUBSCRIBE may still be on its way right after the connect
            mq.pub(where, remote, payload, qos, version)
            try:
                q, ptid, pmid, data = expect_publish(sc, timeout=1.0)
                break
            except TestFailure:
                check(time.monotonic() < deadline, f"{remote}: nothing reached the MQTT-SN subscriber of {local}")
        check(ptid == tid, f"{local}: PUBLISH topic id {ptid}, subscribed {tid}")
        check(data == payload.encode(), f"{local}: payload {data!r}")
        check(q == qos, f"{local}: PUBLISH QoS {q}, published upstream with QoS {qos}")
        if q == 1:
            sc.send(m_puback(ptid, pmid))
        log(f"downstream {remote} ({where}, {version}, QoS {qos}) -> MQTT-SN subscriber of {local}: delivered")
    b = bridges(dp)
    for n in ("b311", "b5", "btls"):
        check(b[n]["injected"] >= 1 and b[n]["inject_dropped"] == 0 and b[n]["subscribed"] == b[n]["subscriptions"],
              f"{n}: injected {b[n]['injected']} inject_dropped {b[n]['inject_dropped']} subscribed "
              f"{b[n]['subscribed']}/{b[n]['subscriptions']}")
    sc.close()

    # 3. broker stopped mid-run
    wait_idle(dp, "before the broker stop")
    b0 = bridges(dp)["b311"]
    persist = Sub(mq, "plain", "site1/up/q/#", qos=1, client_id="fo-e2e-persistent").start()
    try:
        persist.wait_ready("site1/up/q/probe")
        time.sleep(1.5)  # the subscription reaches the broker's autosave (autosave_interval 1)
        # The load runs until the broker is back, however long the outage takes to show here.
        lg = loadgen_bg(lab, ["-p", 2, "-s", 1, "--topic", "up/k{pub}", "--filter", "up/+", "--qos", 0,
                              "--rate", 500, "--duration", 3600, "--drain-ms", 1500, "--expect-no-loss",
                              "--id-prefix", "brk"])
        try:
            r0 = routes(dp)["r311"]
            wait_until("the load at route r311", lambda: routes(dp)["r311"]["written"] > r0["written"] + 200,
                       timeout=20, step=0.1)
            mq.stop(signal.SIGTERM)
            log("mosquitto stopped (SIGTERM) under load")
            wait_until("b311 to notice the broker is gone", lambda: not bridges(dp)["b311"]["connected"], timeout=10)
            # The outage lasts until the ring (64) has overflowed and a reconnect has failed.
            wait_until("ring_full drops and a failed reconnect while the broker is down",
                       lambda: routes(dp)["r311"]["ring_full"] > r0["ring_full"] and
                       bridges(dp)["b311"]["connect_failures"] > b0["connect_failures"], timeout=15, step=0.1)
            mq.start()
            log("mosquitto restarted")
            wait_until("b311 reconnected", lambda: bridges(dp)["b311"]["connected"], timeout=15)
        finally:
            lg.terminate()  # the loadgen ends its send phase on SIGTERM, drains and reports
        rep, rc = loadgen_wait(lg)
        d = rep["deliver"]
        check(rc == 0 and d["lost_msgs"] == 0, f"loadgen while the broker was down: {rep['result']['verdict']}; "
                                              f"lost {d['lost_msgs']} (the workers must not stall)")
        wait_until("b311, b5 and btls reconnected",
                   lambda: all(bridges(dp)[n]["connected"] for n in ("b311", "b5", "btls")), timeout=15)
        rs = wait_idle(dp, "after the broker restart")
        b1 = bridges(dp)["b311"]
        r = rs["r311"]
        log(f"broker down under load: route r311 matched {r['matched']} queued {r['queued']} written {r['written']} "
            f"failed {r['failed']} ring_full {r['ring_full']} pool_empty {r['pool_empty']}; b311 reconnects "
            f"{b0['reconnects']} -> {b1['reconnects']}, connect failures {b0['connect_failures']} -> "
            f"{b1['connect_failures']}; local subscriber received {d['received_msgs']} of {d['expected_msgs']}")
        check(r["ring_full"] > 0, "no ring_full drops while the broker was down (ring 64)")
        check(b1["reconnects"] > b0["reconnects"], f"b311 reconnects {b0['reconnects']} -> {b1['reconnects']}")
        check(b1["connect_failures"] > b0["connect_failures"], "no failed connect attempts while the broker was down")
        check(route_balanced(r), f"r311 counts do not balance: {r}")

        # 3b. a quiet outage: QoS 1 publishes wait in the ring and go up once the broker is back
        mq.stop(signal.SIGTERM)
        wait_until("b311 to notice the broker is gone", lambda: not bridges(dp)["b311"]["connected"], timeout=10)
        qc = RawClient(lab)
        check(qc.connect("br-q1") == 0, "br-q1: CONNACK refused")
        qtid = qc.register("up/q/1")
        q_rcs = [publish_sn(qc, qtid, f"down-{i}", F_QOS1) for i in range(10)]
        check(q_rcs == [0] * 10, f"QoS 1 publishes while the broker is down: PUBACK rcs {q_rcs}")
        check(routes(dp)["r311"]["backlog"] == 10, f"r311 backlog {routes(dp)['r311']['backlog']}, expected 10")
        time.sleep(0.5)  # the publishes stay in the ring while the broker is away
        mq.start()
        persist.wait_for("the QoS 1 publishes made while the broker was down",
                         lambda ms: ms if {f"down-{i}" for i in range(10)} <= {p for _, t, p in ms
                                                                               if t == "site1/up/q/1"} else None,
                         timeout=15)
        wait_idle(dp, "after the quiet outage")
        log("quiet outage: 10 QoS 1 publishes waited in the ring (backlog 10) and reached the persistent "
            "subscriber after the restart")

        # 4. QoS 1 in flight across a broker crash
        w0 = routes(dp)["r311"]["written"]
        mq.send_signal(signal.SIGSTOP)
        log("mosquitto frozen (SIGSTOP)")
        sent = []
        for i in range(20):
            check(publish_sn(qc, qtid, f"inflight-{i}", F_QOS1) == 0, "QoS 1 publish refused")
            sent.append(f"inflight-{i}")
        wait_until("20 QoS 1 entries in flight without PUBACK", lambda: bridges(dp)["b311"]["qos1_inflight"] == 20,
                   timeout=5)
        b2 = bridges(dp)["b311"]
        mq.stop(signal.SIGKILL)
        log(f"mosquitto killed (SIGKILL) with {b2['qos1_inflight']} QoS 1 publishes in flight")
        mq.start()
        rs = wait_idle(dp, "after the crash")
        r = rs["r311"]
        got = persist.wait_for("the publishes that were in flight at the crash",
                               lambda ms: ms if set(sent) <= {p for _, t, p in ms if t == "site1/up/q/1"} else None,
                               timeout=15)
        dups = sum(1 for _, t, p in got if t == "site1/up/q/1" and p in sent) - len(sent)
        check(r["written"] - w0 == 20 and route_balanced(r),
              f"after the crash: written {r['written'] - w0} of 20, counts {r}")
        log(f"in flight across a crash: 20 of 20 written once in the counts and received ({dups} duplicates at the "
            f"subscriber, QoS 1 allows them)")
        qc.close()
    finally:
        persist.stop()

    # 5. the refused bridge, OUTPUTS
    b = bridges(dp)
    bad = b["bbad"]
    check(not bad["connected"] and bad["connect_failures"] >= 3, f"bbad: connected {bad['connected']} "
                                                                  f"connect_failures {bad['connect_failures']}")
    check("refused" in bad["last_error"], f"bbad last_error {bad['last_error']!r}")
    for n, x in b.items():
        log(f"bridge {n}: connected {x['connected']} written {x['written']} failed {x['failed']} discarded "
            f"{x['discarded']} reconnects {x['reconnects']} connect_failures {x['connect_failures']} received "
            f"{x['received']} injected {x['injected']} inject_dropped {x['inject_dropped']} PUBACK rtt p50 "
            f"{x['rtt_us']['p50']} us p99 {x['rtt_us']['p99']} us; last_error {x['last_error']!r}")
    check(b["b311"]["rtt_us"]["n"] > 0, "b311: no PUBACK round trips counted")
    check(b["b311"]["discarded"] == 0, f"b311: {b['b311']['discarded']} entries discarded while running")
    for n in ("b311", "b5", "btls"):
        check(b[n]["connected"] and b[n]["reconnects"] >= 3 and b[n]["failed"] == 0,
              f"{n}: connected {b[n]['connected']} reconnects {b[n]['reconnects']} failed {b[n]['failed']} "
              "(three broker restarts)")
    pc.close()

    # 6. the stop with entries in flight: frozen broker, the bridge gives up after its flush time
    mq.send_signal(signal.SIGSTOP)
    fc = RawClient(lab)
    check(fc.connect("br-final") == 0, "br-final: CONNACK refused")
    ftid = fc.register("up/final")
    for i in range(40):  # max_inflight 32: 32 in flight, 8 left in the ring
        check(publish_sn(fc, ftid, f"final-{i}", F_QOS1) == 0, "QoS 1 publish refused")
    wait_until("32 QoS 1 entries in flight and 8 in the ring",
               lambda: (lambda x: x["qos1_inflight"] == 32 and x["ring"] == 8)(bridges(dp)["b311"]), timeout=5)
    fc.close()


if __name__ == "__main__":
    run_test(main, __doc__)
