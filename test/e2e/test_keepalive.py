#!/usr/bin/env python3
"""Keepalive expiry on the lab, with raw MQTT-SN clients (UDP sockets inside the namespace).

Client A connects with keepalive 2 s and goes silent; client B connects with keepalive 2 s and
sends PINGREQ every second. Stats snapshots (SIGUSR1) every ~0.2 s: A's session must still exist
at 2.5 s after its CONNACK and be gone (sessions 2 -> 1, events.session_expired == 1) by 3.5 s
(keepalive x1.5 = 3 s, plus 0.5 s of scan slack, stretched by the harness's SLOWDOWN); B gets a PINGRESP for every PINGREQ and keeps its
session throughout (6 s), then DISCONNECTs (session_disconnected == 1, sessions 0).
Conservation holds after stop."""
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (DISCONNECT, PINGRESP, Dataplane, Lab, RawClient, check, check_conservation,  # noqa: E402
                     events, log, m_disconnect, m_pingreq, run_test, scaled, sessions, wait_until)

KEEPALIVE = 2.0
NOT_BEFORE = 2.5            # A must still be there
EXPIRY = 1.5 * KEEPALIVE   # A must be gone this long after its last message, plus the scan's slack
RUN_FOR = 6.0


def main(args):
    deadline = EXPIRY + scaled(0.5)
    with Lab("keep") as lab, Dataplane("keep", lab) as dp:
        s0 = dp.snapshot()
        check(sessions(s0) == 0, f"{sessions(s0)} sessions before any client connected")
        a, b = RawClient(lab), RawClient(lab)
        try:
            check(b.connect("kapinger", keepalive=int(KEEPALIVE)) == 0, "B: CONNACK refused")
            check(a.connect("kasilent", keepalive=int(KEEPALIVE)) == 0, "A: CONNACK refused")
            t0 = time.monotonic()  # A's CONNACK
            samples = []           # (t, sessions, session_expired)
            pings = pongs = 0
            next_ping = time.monotonic() + 1.0
            while time.monotonic() - t0 < RUN_FOR:
                now = time.monotonic()
                if now >= next_ping:
                    b.send(m_pingreq())
                    pings += 1
                    b.expect(PINGRESP, 1.0)
                    pongs += 1
                    next_ping = now + 1.0
                t = time.monotonic() - t0
                s = dp.snapshot()
                samples.append((t, sessions(s), events(s)["session_expired"]))
                time.sleep(0.15)
            a.expect_nothing(0.1)  # the silent client is not told anything
            b.send(m_disconnect())
            b.expect(DISCONNECT, 2.0)
            s_end = wait_until("B's session to end after its DISCONNECT",
                               lambda: (lambda s: s if sessions(s) == 0 else None)(dp.snapshot()), timeout=5)
        finally:
            a.close()
            b.close()
        gone = next(((t, n, e) for t, n, e in samples if n < 2 or e > 0), None)
        last_present = max((t for t, n, e in samples if n == 2 and e == 0), default=None)
        log("samples (t s, sessions, session_expired): " +
            " ".join(f"({t:.2f},{n},{e})" for t, n, e in samples))
        log(f"A (keepalive {KEEPALIVE:.0f} s, silent): last seen present at "
            f"{last_present if last_present is None else round(last_present, 2)} s, "
            f"first seen gone at {gone if gone is None else round(gone[0], 2)} s; B: {pings} PINGREQ, {pongs} PINGRESP")
        check(last_present is not None and last_present >= NOT_BEFORE,
              f"A's session was gone before {NOT_BEFORE} s (last present at {last_present} s)")
        check(gone is not None and gone[0] <= deadline,
              f"A's session not expired by {deadline:.1f} s after CONNACK (first gone at {gone[0] if gone else None})")
        # (one snapshot reads the session table and the event counters at slightly different moments:
        # the first sample that shows A gone may not show its count yet)
        check(all(n == 1 and e == 1 for t, n, e in samples if t > gone[0]) and gone[1] == 1,
              "after A's expiry: want sessions 1 and session_expired 1 in every later sample (B kept alive); "
              f"samples {[(round(t, 2), n, e) for t, n, e in samples if t >= gone[0]]}")
        ev = events(s_end)
        log(f"after B's DISCONNECT: sessions {sessions(s_end)}, session_expired {ev['session_expired']}, "
            f"session_disconnected {ev['session_disconnected']}, connect_accepted {ev['connect_accepted']}")
        check(sessions(s_end) == 0 and ev["session_disconnected"] == 1 and ev["session_expired"] == 1,
              f"after B's DISCONNECT: sessions {sessions(s_end)} (want 0), session_disconnected "
              f"{ev['session_disconnected']} (want 1), session_expired {ev['session_expired']} (want 1)")
        stats = dp.stop()
        check_conservation(stats)


if __name__ == "__main__":
    run_test(main, __doc__)
