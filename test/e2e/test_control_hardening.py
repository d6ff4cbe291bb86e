#!/usr/bin/env python3
"""fanout-control against a hostile local process and a hostile web page.

Phase 1, fanout-control without a dataplane (no DPDK):
  - the token file is made at first start with mode 0600 and reused after a restart;
  - HTTP: no token -> 401 (also /metrics), a wrong token -> 401, a foreign Host (DNS rebinding) -> 403,
    a foreign Origin -> 403, a text/plain POST -> 415, a 100 KiB rollout body -> 413 and a 2 MiB config
    body -> 413; GET / (the page, no data) -> 200 without the token; no CORS header anywhere; the
    refusals are counted in STATUS and /metrics;
  - POST /api/rollout/start with 8 gates (26 words; it overflowed a 16-slot stack array before) answers
    and the daemon lives on (run it in build-asan: AddressSanitizer would abort the daemon);
  - RESP: a command before AUTH -> -NOAUTH; a wrong AUTH -> -WRONGPASS; AUTH default <token> works;
    `*2147483647` followed by `$0` elements for 2 s is cut with -ERR at once and VmRSS stays within
    16 MiB of what it was; 65 arguments and a 1 MiB + 1 argument are cut as well; more than 64
    connections are refused at accept.
Phase 2, with the dataplane on the lab (subnet 133): a client whose ClientId holds ESC and NUL connects;
  `fanoutctl sessions` shows it as \\x1b and \\x00 and prints no control byte; `fanoutctl --json sessions`
  and GET /api/sessions give valid JSON with the exact ClientId; with a canary loaded, the 8-gate
  rollout start over HTTP starts the rollout."""
import json
import os
import shutil
import socket
import stat
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Control, Dataplane, Lab, RawClient, Resp, RespError, check, check_conservation,  # noqa: E402
                     log, run_test, scaled, wait_until)

GATES = ["drop_rate<0.5", "drop_rate<0.6", "drop_rate<0.7", "drop_rate<0.8", "error_rate<0.5", "error_rate<0.6",
         "p99_us<1000000", "sink_errors<1000"]
ROLLOUT = {"steps": [1, 5, 25, 50, 100], "hold_s": 30, "mode": "split", "auto": False, "gates": GATES}


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def raw_conn(ctl):
    s = socket.create_connection(("127.0.0.1", ctl.port), timeout=scaled(5))
    return s


def read_until_closed(s, limit=1 << 16):
    out = b""
    try:
        while len(out) < limit:
            b = s.recv(4096)
            if not b:
                break
            out += b
    except (ConnectionResetError, socket.timeout):
        pass
    return out


def phase_http(ctl):
    code, body = ctl.api("/api/status", token=False)
    check(code == 401, f"GET /api/status without a token: {code} {body[:200]}")
    code, _ = ctl.api("/metrics", token=False)
    check(code == 401, f"GET /metrics without a token: {code}")
    code, _ = ctl.api("/api/status", token="0" * 64)
    check(code == 401, f"a wrong token: {code}")
    code, body = ctl.api("/api/status", headers={"Host": f"rebind.example:{ctl.http}"})
    check(code == 403, f"Host rebind.example: {code} {body[:200]}")
    code, body = ctl.api("/api/config", headers={"Origin": "http://evil.example"})
    check(code == 403, f"Origin evil.example: {code} {body[:200]}")
    code, _ = ctl.api("/api/status", headers={"Origin": f"http://127.0.0.1:{ctl.http}"})
    check(code == 200, f"same-origin request: {code}")
    code, body = ctl.api("/api/rollout/start", method="POST", body=b'{"gates":["drop_rate<0.1"]}',
                         headers={"Content-Type": "text/plain"})
    check(code == 415, f"text/plain POST: {code} {body[:200]}")
    code, body = ctl.api("/api/rollout/start", method="POST", body=b'{"x":"' + b"a" * (100 << 10) + b'"}',
                         headers={"Content-Type": "application/json"})
    check(code == 413, f"100 KiB rollout body: {code} {body[:200]}")
    # above libevent's bound (1 MiB) it answers 413 from the headers and closes without reading the body
    s = socket.create_connection(("127.0.0.1", ctl.http), timeout=5)
    s.sendall(f"POST /api/config HTTP/1.1\r\nHost: 127.0.0.1:{ctl.http}\r\nAuthorization: Bearer {ctl.token}\r\n"
              f"Content-Type: application/json\r\nContent-Length: {2 << 20}\r\n\r\n".encode() + b"{" * 4096)
    reply = read_until_closed(s, 4096)
    s.close()
    check(reply.startswith(b"HTTP/1.1 413"), f"2 MiB config body: {reply[:100]!r}")
    code, page = ctl.api("/", token=False)
    check(code == 200 and "chart-rate" in page, f"GET / without a token: {code}")
    # the 26-word ROLLOUT START: no dataplane here, so 503, but the daemon must answer and live on
    code, body = ctl.api("/api/rollout/start", method="POST", body=ROLLOUT)
    check(code in (400, 503), f"POST /api/rollout/start with 8 gates: {code} {body[:300]}")
    check(ctl.proc.poll() is None, "fanout-control died on POST /api/rollout/start with 8 gates")
    # the route table answers a 404 with every route it has
    code, body = ctl.api("/api/nope")
    check(code == 404 and all(r in body for r in ("GET /api/topics", "GET /api/config/{id}", "POST /api/config/diff",
                                                  "POST /api/rollout/rollback", "GET /metrics")),
          f"404 text: {code} {body[:600]}")
    mcode, text = ctl.api("/metrics")
    check(mcode == 200 and 'fanout_control_refused_total{reason="http_auth"} 3' in text, f"/metrics: {mcode} {text[:600]}")
    st = ctl.json("STATUS")
    ref = st["control"]["refused"]
    check(ref["http_host"] == 1 and ref["http_origin"] == 1 and ref["http_content_type"] == 1 and
          ref["http_body_size"] >= 1, f"refusal counters: {ref}")
    log(f"HTTP: 401 without/with a wrong token, 403 for Host and Origin, 415 text/plain, 413 bodies, "
        f"8-gate rollout start answered {code}; refused {ref}")


def phase_resp(ctl):
    with Resp(("127.0.0.1", ctl.port)) as r:
        try:
            r.call("STATUS")
            check(False, "STATUS before AUTH answered")
        except RespError as e:
            check(str(e).startswith("NOAUTH"), f"before AUTH: -{e}")
        try:
            r.call("PING")
            check(False, "PING before AUTH answered")
        except RespError as e:
            check(str(e).startswith("NOAUTH"), f"PING before AUTH: -{e}")
        try:
            r.call("AUTH", "not-the-token")
            check(False, "a wrong AUTH was accepted")
        except RespError as e:
            check(str(e).startswith("WRONGPASS"), f"wrong AUTH: -{e}")
        check(r.call("AUTH", "default", ctl.token) == "OK", "AUTH default <token>")
        check(r.call("PING") == "PONG", "PING after AUTH")
        # HELP and COMMAND come from the command tables; arity is checked before any handler runs
        helptext = r.call("HELP")
        check(all(c in helptext for c in ("AUTH [default] <token>", "CONFIG APPLY <yaml> [NOW]", "ROLLOUT START [STEPS",
                                          "SERIES [SINCE t_ms]", "HISTORY [COUNT n]")), f"HELP: {helptext[:400]!r}")
        listing = r.call("COMMAND")
        check(len(listing) == r.call("COMMAND", "COUNT") and ["config|apply", -3] == listing[[e[0] for e in listing]
              .index("config|apply")][:2], f"COMMAND: {listing[:4]}")
        for args, want in ((("STATUS", "x"), "STATUS takes 0 argument(s), not 1"),
                           (("CONFIG", "SHOW"), "usage: CONFIG SHOW <id>"),
                           (("ROLLOUT", "LAUNCH"), "usage: ROLLOUT START"),
                           (("NOSUCH",), "unknown command 'NOSUCH'; commands: STATUS")):
            try:
                r.call(*args)
                check(False, f"{args} was accepted")
            except RespError as e:
                check(want in str(e), f"{args}: -{e}")

    pid = ctl.proc.pid
    before = rss_kib(pid)
    s = raw_conn(ctl)
    s.sendall(f"*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n${len(ctl.token)}\r\n{ctl.token}\r\n".encode())
    s.sendall(b"*2147483647\r\n")
    sent, t0, closed = 0, time.monotonic(), False
    chunk = b"$0\r\n\r\n" * 10000
    while time.monotonic() - t0 < 2.0:
        try:
            s.sendall(chunk)
            sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    reply = read_until_closed(s)
    s.close()
    after = rss_kib(pid)
    check(closed or b"-ERR too many arguments" in reply, f"*2147483647: not cut ({sent} bytes taken): {reply[:200]!r}")
    check(b"-ERR too many arguments" in reply, f"*2147483647: reply {reply[:200]!r}")
    check(after - before < 16 * 1024, f"VmRSS grew {before} -> {after} KiB on *2147483647")
    log(f"RESP *2147483647 + $0...: cut after {sent} bytes sent with {reply.strip().decode()!r}; VmRSS "
        f"{before} -> {after} KiB")

    for what, data, want in (
            ("65 arguments", b"*65\r\n", b"-ERR too many arguments"),
            ("a 1 MiB + 1 argument", b"*3\r\n$6\r\nCONFIG\r\n$5\r\nAPPLY\r\n$1048577\r\n", b"-ERR argument above"),
            ("an HTTP request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"-ERR protocol error")):
        s = raw_conn(ctl)
        s.sendall(f"*2\r\n$4\r\nAUTH\r\n${len(ctl.token)}\r\n{ctl.token}\r\n".encode() + data)
        reply = read_until_closed(s)
        s.close()
        check(want in reply and reply.endswith(b"closing\r\n"), f"{what}: {reply[:200]!r}")

    conns = [raw_conn(ctl) for _ in range(64)]
    for c in conns:  # each one accepted and served (an unauthenticated PING is answered with an error)
        c.sendall(b"*1\r\n$4\r\nPING\r\n")
    for i, c in enumerate(conns):
        reply = c.recv(4096)
        check(reply.startswith((b"+", b"-")), f"connection {i + 1} of 64 was not served: {reply!r}")
    extra = raw_conn(ctl)
    reply = read_until_closed(extra)
    extra.close()
    check(b"too many connections" in reply, f"the 65th connection: {reply!r}")
    for c in conns:
        c.close()
    wait_until("fanout-control to answer again", lambda: ctl.call("PING") == "PONG", timeout=5)
    after = rss_kib(pid)
    check(after - before < 16 * 1024, f"VmRSS grew {before} -> {after} KiB")
    ref = ctl.json("STATUS")["control"]["refused"]
    check(ref["resp_limit"] >= 3 and ref["resp_noauth"] >= 2 and ref["resp_wrongpass"] >= 1 and
          ref["resp_connections"] >= 1 and ref["resp_protocol"] >= 1, f"RESP refusal counters: {ref}")
    log(f"RESP: NOAUTH, WRONGPASS, AUTH default; 65 args / 1 MiB+1 / HTTP cut; the 65th connection refused; "
        f"VmRSS {before} -> {after} KiB; refused {ref}")


def phase_token(ctl):
    p = Path(ctl.token_file)
    mode = stat.S_IMODE(p.stat().st_mode)
    check(mode == 0o600, f"token file mode {mode:o}")
    tok = ctl.token
    check(len(tok) == 64 and all(c in "0123456789abcdef" for c in tok), f"token {tok!r}")
    ctl.stop()
    ctl.start()
    check(ctl.token == tok, "the token changed across a restart")
    log(f"token: {p} mode 0600, 64 hex digits, reused after a restart")


def main(args):
    with Lab("ctlsec") as lab:
        sock = Path(f"/tmp/fo-e2e-ctlsec-{os.getpid()}.sock")
        state = Path(f"/tmp/fo-e2e-ctlsec-{os.getpid()}")
        try:
            run(lab, sock, state)
        finally:
            shutil.rmtree(state, ignore_errors=True)


def run(lab, sock, state):
    with Control(sock, state) as ctl:
        log("phase 1: fanout-control without a dataplane")
        phase_token(ctl)
        phase_http(ctl)
        phase_resp(ctl)

        log("phase 2: the dataplane; a ClientId with ESC and NUL")
        with Dataplane("ctlsec", lab, extra_app=["--control", str(sock)]) as dp:
            wait_until("fanout-control to connect", lambda: ctl.json("STATUS")["dataplane"]["synced"], timeout=15)
            cid = "ev\x1b]0;pwned\x07\x1b[2J\x00il"
            c = RawClient(lab)
            check(c.connect(cid) == 0, "CONNECT with ESC/NUL in the ClientId refused")
            rc, out, err = ctl.ctl("sessions")
            check(rc == 0, f"fanoutctl sessions exited {rc}: {err}")
            check(all(ch == "\n" or ord(ch) >= 0x20 for ch in out), f"raw control bytes in fanoutctl sessions: {out!r}")
            check("ev\\x1b]0;pwned\\x07\\x1b[2J\\x00il" in out, f"fanoutctl sessions: {out!r}")
            rc, out, err = ctl.ctl("--json", "sessions")
            check(rc == 0 and all(ch == "\n" or 0x20 <= ord(ch) < 0x7f for ch in out), f"--json sessions: {out!r}")
            ids = [s["client_id"] for s in json.loads(out)["sessions"]]
            check(cid in ids, f"fanoutctl --json sessions client ids: {ids!r}")
            ids = [s["client_id"] for s in ctl.api_json("/api/sessions")["sessions"]]
            check(cid in ids, f"GET /api/sessions client ids: {ids!r}")
            log("ClientId with ESC and NUL: fanoutctl shows \\x1b/\\x00, --json and /api/sessions keep it exact")
            c.close()

            canary = Path(dp.dir) / "canary.yaml"
            canary.write_text(Path(dp.config_path).read_text())
            code, body = ctl.api("/api/config", method="POST", body={"yaml": canary.read_text()})
            check(code == 200, f"POST /api/config: {code} {body[:300]}")
            code, body = ctl.api("/api/rollout/start", method="POST", body=ROLLOUT)
            check(code == 200 and json.loads(body)["state"] in ("running", "held"),
                  f"POST /api/rollout/start with 8 gates: {code} {body[:300]}")
            check(len(json.loads(body)["plan"]["gates"]) == 8, f"rollout plan: {body[:400]}")
            log("POST /api/config then /api/rollout/start with 8 gates: the rollout runs")
            code, _ = ctl.api("/api/rollout/abort", method="POST", body={})
            check(code == 200, f"POST /api/rollout/abort: {code}")
            check_conservation(dp.stop())


if __name__ == "__main__":
    run_test(main, __doc__)
