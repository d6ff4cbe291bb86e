#!/usr/bin/env python3
"""The dataplane's RESP control socket (--control PATH), served by the main lcore.

Checks: the socket exists with mode 0600 once the dataplane is ready; `redis-cli -s PATH` PING,
INFO (sections Server/Mqttsn/Stats; sessions follow a real MQTT-SN client's CONNECT and DISCONNECT)
and STATS (the JSON snapshot, with the same rx figure the counters give) work; an unknown command
gets an -ERR that names it; a non-RESP request gets a protocol error and the connection is closed
(the dataplane keeps serving); the socket file is removed at exit; conservation holds."""
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (Dataplane, Lab, RawClient, check, check_conservation, log, m_disconnect,  # noqa: E402
                     run_test)


def cli(path, *args):
    r = subprocess.run(["redis-cli", "-s", path, *args], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, f"redis-cli {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def raw_bulk(path, *args):
    """One command over the socket without redis-cli; the reply must be a bulk string."""
    req = f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(req)
        buf = b""
        while True:
            chunk = s.recv(65536)
            check(chunk != b"", f"{args}: connection closed after {buf[:200]!r}")
            buf += chunk
            if b"\r\n" not in buf:
                continue
            check(buf.startswith(b"$"), f"{args}: not a bulk string: {buf[:200]!r}")
            head = buf.index(b"\r\n")
            if len(buf) >= head + 2 + int(buf[1:head]) + 2:
                break
    check(buf.startswith(b"$"), f"{args}: not a bulk string: {buf[:200]!r}")
    return buf[buf.index(b"\r\n") + 2:-2].decode()


def info(path):
    out = {}
    for line in cli(path, "INFO").splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def main(args):
    with Lab("ctl") as lab:
        sock_path = os.path.join("/tmp", f"fo-e2e-ctl-{os.getpid()}.sock")
        with Dataplane("ctl", lab, extra_app=["--control", sock_path]) as dp:
            st = os.stat(sock_path)
            check(stat.S_ISSOCK(st.st_mode), f"{sock_path} is not a socket")
            check(stat.S_IMODE(st.st_mode) == 0o600, f"socket mode {oct(stat.S_IMODE(st.st_mode))}, expected 0o600")
            check(cli(sock_path, "PING").strip() == "PONG", "PING did not answer PONG")

            i0 = info(sock_path)
            for key in ("fanout_version", "uptime_s", "workers", "sessions", "rx", "delivered", "answered",
                        "dropped", "out_sent"):
                check(key in i0, f"INFO lacks '{key}': {sorted(i0)}")
            check(i0["sessions"] == "0", f"sessions {i0['sessions']} before any client")

            c = RawClient(lab)
            try:
                check(c.connect("ctlclient", keepalive=30) == 0, "CONNACK refused")
                i1 = info(sock_path)
                check(i1["sessions"] == "1", f"INFO sessions {i1['sessions']} after CONNECT, expected 1")
                check(int(i1["rx"]) >= 1, f"INFO rx {i1['rx']} after CONNECT")

                snap = json.loads(cli(sock_path, "STATS"))
                check(snap["reason"] == "control", f"STATS reason {snap['reason']}")
                check(snap["totals"]["rx"] == int(i1["rx"]),
                      f"STATS rx {snap['totals']['rx']} != INFO rx {i1['rx']} with no traffic in between")
                check(sum(w["sessions"] for w in snap["workers"]) == 1, "STATS workers do not show the session")

                err = cli(sock_path, "NOSUCHCMD")
                check("unknown command" in err and "NOSUCHCMD" in err, f"unknown command reply: {err!r}")

                # The command table answers for itself: HELP and COMMAND list every command of
                # include/fanout/dp_commands.h, and a count outside an entry's arity is refused.
                table = Path(__file__).resolve().parents[2] / "include" / "fanout" / "dp_commands.h"
                names = []
                for line in table.read_text().splitlines():
                    line = line.strip()
                    if line.startswith("X("):
                        parts = [p.strip().strip('"') for p in line[2:].split(",")]
                        names.append((parts[1] + " " + parts[2]).strip())
                check(len(names) >= 20, f"commands read from {table}: {names}")
                helptext = raw_bulk(sock_path, "HELP")  # redis-cli answers "help" itself
                for n in names:
                    check(n in helptext, f"HELP does not list {n}: {helptext[:300]!r}")
                count = cli(sock_path, "COMMAND", "COUNT").strip()
                check(count == str(len(names)), f"COMMAND COUNT {count!r}, table has {len(names)}")
                listing = cli(sock_path, "COMMAND")
                check("config|load" in listing and "rxpace" in listing, f"COMMAND: {listing[:300]!r}")
                err = cli(sock_path, "STATS", "extra")
                check("wrong number of arguments for 'STATS'" in err, f"STATS extra: {err!r}")
                err = cli(sock_path, "CANARY", "SHARE")
                check("usage: CANARY SHARE" in err, f"CANARY SHARE without a value: {err!r}")
                err = cli(sock_path, "CONFIG", "BURN", "x")
                check("CONFIG DIFF" in err and "CONFIG LOAD" in err, f"CONFIG BURN: {err!r}")
                check(cli(sock_path, "PING", "hi").strip() == "hi", "PING hi")
                log(f"HELP and COMMAND list the table's {len(names)} commands; arity refused with the usage")

                # A request that is not RESP: an error, the connection closed, the server still serving.
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(5)
                    s.connect(sock_path)
                    s.sendall(b"*1\r\n$x\r\n")
                    data = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    check(data.startswith(b"-ERR"), f"bad RESP got {data!r}")
                check(cli(sock_path, "PING").strip() == "PONG", "no PONG after a bad client")

                c.send(m_disconnect())
                c.expect(0x18, timeout=2.0)
                i2 = info(sock_path)
                check(i2["sessions"] == "0", f"INFO sessions {i2['sessions']} after DISCONNECT")
            finally:
                c.close()
            final = dp.stop()
        check(not os.path.exists(sock_path), f"{sock_path} left behind after exit")
        check_conservation(final)
        log(f"control socket: PING/INFO/STATS ok; sessions 0 -> 1 -> 0; rx {final['totals']['rx']}")


if __name__ == "__main__":
    run_test(main, __doc__)
