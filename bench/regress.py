#!/usr/bin/env python3
"""Regression guard: instructions per message of the dataplane's per-message work, against the figures
stored in bench/baseline.json for the build type.

Generates a fixed set of workloads with bench/workload.py (4 publishers, 16 subscribers, 8 topics, 64-byte
payload; exact and wildcard filters; QoS 0 and a QoS 0:90,1:10 mix) into a temporary directory, runs
fanout-core-replay on each under `valgrind --tool=callgrind --collect-atstart=no` (the replay turns
collection on only around its measured passes over steady.pcap) and divides the callgrind Ir total by the
messages replayed (steady.pcap frames x loops). Instruction counts are deterministic, unlike cycles in a VM.

Exit status: 0 when no workload grew by more than the tolerance (25 %), 1 when one did (or a workload did
not run as generated: wrong delivery count, drops, bad frames), 77 (meson's SKIP) when it cannot measure
honestly: a sanitizer build (valgrind cannot run ASan binaries), no valgrind, or no stored figure for the
build type or compiler; 2 on usage or setup errors.

  bench/regress.py --build-dir build             # compare
  bench/regress.py --build-dir build --update    # store this build type's figures in bench/baseline.json"""
import argparse
import datetime
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = 77

COMMON = ["--publishers", "4", "--subscribers", "16", "--topics", "8", "--topic-pattern", "bench/{t}",
          "--payload", "64", "--frames", "2048"]
WORKLOADS = {  # name -> extra bench/workload.py arguments
    "exact-qos0": ["--qos-mix", "0"],
    "exact-qos0:90,1:10": ["--qos-mix", "0:90,1:10"],
    "wildcard-qos0": ["--wildcard", "--qos-mix", "0"],
    "wildcard-qos0:90,1:10": ["--wildcard", "--qos-mix", "0:90,1:10"],
    # every publish also to a Redis Streams sink in written mode: its entry on the sink's ring and
    # the QoS 1 PUBACKs deferred until the entry comes back (the replay drains the ring per burst)
    "exact-qos0:90,1:10+sink": ["--qos-mix", "0:90,1:10", "--sink"],
}


def build_options(build_dir):
    path = Path(build_dir) / "meson-info" / "intro-buildoptions.json"
    try:
        opts = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"regress: cannot read the build options of {build_dir} ({path}: {e}); "
                         "is it a meson build directory?")
    return {o["name"]: o["value"] for o in opts}


def compiler_key(compiler):
    """'gcc 12.2.0' -> 'gcc 12': figures are comparable within a compiler's major version."""
    m = re.match(r"(\w+)\D*?(\d+)", compiler)
    return f"{m.group(1)} {m.group(2)}" if m else compiler


def run_workload(name, extra, tmp, replay, valgrind, loops, verbose):
    wdir = Path(tmp) / name.replace(":", "_").replace(",", "_")
    gen = [sys.executable, str(HERE / "workload.py"), "--out", str(wdir)] + COMMON + extra
    r = subprocess.run(gen, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"regress: bench/workload.py failed for {name}:\n{r.stdout}{r.stderr}")
    desc = json.loads((wdir / "workload.json").read_text())
    macs = ["--mac0", desc["args"]["mac0"], "--mac1", desc["args"]["mac1"]]
    # Natively first: the output frames of the warm-up pass checked (--verify), the counts for the
    # sanity checks below and ns/message (informational).
    cmd = [str(replay), "--dir", str(wdir), "--loops", str(loops), "--warmup", "1", "--verify", "--json"] + macs
    if verbose:
        print("  $ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    try:
        rep = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        rep = None
    if rep is None or r.returncode not in (0, 1):
        raise SystemExit(f"regress: {name}: fanout-core-replay failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    out = wdir / "callgrind.out"
    cmd = [valgrind, "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}",
           str(replay), "--dir", str(wdir), "--loops", str(loops), "--warmup", "1", "--json"] + macs
    if verbose:
        print("  $ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"regress: {name}: fanout-core-replay under callgrind failed (exit {r.returncode}):\n"
                         f"{r.stdout}{r.stderr[-3000:]}")
    m = re.search(r"^totals:\s+(\d+)", out.read_text(), re.M)
    if not m:
        raise SystemExit(f"regress: {name}: no 'totals:' line in {out}")
    ir = int(m.group(1))
    # The workload must have run as generated, or its figure means nothing.
    problems = []
    want_pub = desc["steady_publish_frames"] * loops
    if rep["messages"] != desc["steady_frames"] * loops:
        problems.append(f"{rep['messages']} messages replayed, expected {desc['steady_frames'] * loops}")
    if rep["publishes"] != want_pub:
        problems.append(f"{rep['publishes']} publishes accepted, expected {want_pub}")
    if rep["deliveries"] != want_pub * desc["fanout"]:
        problems.append(f"{rep['deliveries']} deliveries, expected {want_pub * desc['fanout']}")
    if rep["dropped"] or rep["out_dropped"] or rep["bad_frames"]:
        problems.append(f"{rep['dropped']} dropped, {rep['out_dropped']} output drops, "
                        f"{rep['bad_frames']} output frames with a bad checksum or length")
    if desc.get("sink"):
        want_deferred = int(desc["qos"].get("1", 0)) * loops
        if rep["out_entries"] != want_pub or rep["pubacks_deferred"] != want_deferred:
            problems.append(f"{rep['out_entries']} sink entries and {rep['pubacks_deferred']} deferred PUBACKs, "
                            f"expected {want_pub} and {want_deferred}")
    if not rep["callgrind"] or ir == 0:
        problems.append("fanout-core-replay was built without valgrind/callgrind.h (nothing collected)")
    return {"ir": ir, "messages": rep["messages"], "deliveries": rep["deliveries"], "ns_per_msg": rep["ns_per_msg"],
            "ir_per_msg": round(ir / rep["messages"], 1), "compiler": rep["compiler"], "problems": problems}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--buildtype", help="build type whose stored figures apply (default: the build dir's)")
    ap.add_argument("--baseline", default=str(HERE / "baseline.json"))
    ap.add_argument("--tolerance", type=float, help="allowed growth, fraction (default: the baseline file's, 0.25)")
    ap.add_argument("--loops", type=int, default=2, help="measured passes over steady.pcap (default 2)")
    ap.add_argument("--update", action="store_true", help="store this run's figures for the build type")
    ap.add_argument("--keep", help="generate the workloads here and keep them (default: a temporary directory)")
    ap.add_argument("--valgrind", default="valgrind")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    opts = build_options(a.build_dir)
    buildtype = a.buildtype or opts.get("buildtype", "custom")
    sanitize = opts.get("b_sanitize", "none")
    if sanitize not in ("none", "", None):
        print(f"SKIP: bench-regression: {a.build_dir} is a sanitizer build (b_sanitize={sanitize}); valgrind cannot "
              "run ASan/UBSan-instrumented binaries and their instruction counts are not the product's. "
              "Run it on a build without b_sanitize (the default build dir).")
        return SKIP
    valgrind = shutil.which(a.valgrind)
    if not valgrind:
        print(f"SKIP: bench-regression: '{a.valgrind}' not found; the guard counts instructions under "
              "valgrind --tool=callgrind (apt-get install valgrind)")
        return 2 if a.update else SKIP
    replay = Path(a.build_dir) / "bench" / "fanout-core-replay"
    if not replay.exists():
        raise SystemExit(f"regress: {replay} not found; build it first (ninja -C {a.build_dir})")

    try:
        baseline = json.loads(Path(a.baseline).read_text())
    except FileNotFoundError:
        baseline = {}
    tol = a.tolerance if a.tolerance is not None else baseline.get("tolerance", 0.25)
    stored = baseline.get("figures", {}).get(buildtype)

    vg_version = subprocess.run([valgrind, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"bench-regression: build {a.build_dir} ({buildtype}), {vg_version}, {len(WORKLOADS)} workloads "
          f"x {a.loops} loops of 2049 frames", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="fanout-regress-") as tmp:
        wroot = a.keep or tmp
        Path(wroot).mkdir(parents=True, exist_ok=True)
        for name, extra in WORKLOADS.items():
            results[name] = run_workload(name, extra, wroot, replay, valgrind, a.loops, a.verbose)
    compiler = next(iter(results.values()))["compiler"]

    bad = [f"{n}: {p}" for n, r in results.items() for p in r["problems"]]
    if bad:
        print("FAIL: the workloads did not run as generated, so their figures mean nothing:")
        for b in bad:
            print("  " + b)
        return 1

    if a.update:
        figures = baseline.setdefault("figures", {})
        figures[buildtype] = {
            "compiler": compiler,
            "valgrind": vg_version,
            "measured": datetime.date.today().isoformat(),
            "optimization": opts.get("optimization"),
            "b_lto": opts.get("b_lto"),
            "ir_per_msg": {n: r["ir_per_msg"] for n, r in results.items()},
        }
        baseline.setdefault("tolerance", 0.25)
        baseline["about"] = ("bench/regress.py: callgrind instructions (Ir) per steady message of "
                             "fanout-core-replay (4 publishers, 16 subscribers, 8 topics, 64 B; "
                             "message = frame of steady.pcap; \"+sink\": every publish also to a written-mode Redis "
                             "Streams sink route); per build type; --update rewrites a build type's "
                             "figures")
        baseline = {k: baseline[k] for k in ("about", "tolerance", "figures")}
        Path(a.baseline).write_text(json.dumps(baseline, indent=1, sort_keys=False) + "\n")
        for n, r in results.items():
            print(f"  {n:24} {r['ir_per_msg']:10.1f} Ir/msg ({r['ir_per_msg'] * r['messages'] / r['deliveries']:.0f} "
                  f"per delivery; {r['ns_per_msg']:.0f} ns/msg native, informational)")
        print(f"stored the {buildtype} figures ({compiler}) in {a.baseline}")
        return 0

    if not stored:
        print(f"SKIP: bench-regression: {a.baseline} has no figures for build type '{buildtype}' (it has: "
              f"{', '.join(baseline.get('figures', {})) or 'none'}); store them with "
              f"bench/regress.py --build-dir {a.build_dir} --update")
        return SKIP
    if compiler_key(stored.get("compiler", "")) != compiler_key(compiler):
        print(f"SKIP: bench-regression: the stored {buildtype} figures were measured with {stored.get('compiler')}, "
              f"this build uses {compiler}: instruction counts are not comparable across compilers; "
              f"re-baseline with --update")
        return SKIP

    for k in ("optimization", "b_lto"):
        if k in stored and stored[k] != opts.get(k):
            print(f"warning: the stored {buildtype} figures were measured with {k}={stored[k]}, this build has "
                  f"{k}={opts.get(k)}")
    failed = []
    print(f"  {'workload':24} {'stored':>10} {'now':>10} {'change':>8}   (Ir per message, limit +{tol * 100:.0f} %)")
    for n, r in results.items():
        ref = stored["ir_per_msg"].get(n)
        if ref is None:
            print(f"  {n:24} {'-':>10} {r['ir_per_msg']:10.1f}            no stored figure (--update)")
            continue
        ch = r["ir_per_msg"] / ref - 1
        verdict = "REGRESSION" if ch > tol else ("faster: consider --update" if ch < -tol else "ok")
        print(f"  {n:24} {ref:10.1f} {r['ir_per_msg']:10.1f} {ch * 100:+7.1f} %   {verdict}"
              f"   ({r['ns_per_msg']:.0f} ns/msg native, informational)")
        if ch > tol:
            failed.append(f"{n}: {r['ir_per_msg']:.1f} instructions per message, {ch * 100:+.1f} % over the stored "
                          f"{ref:.1f} ({buildtype})")
    if failed:
        print(f"FAIL: instructions per message grew by more than {tol * 100:.0f} % over bench/baseline.json:")
        for f in failed:
            print("  " + f)
        print("If the growth is intended, store the new figures: bench/regress.py --build-dir "
              f"{a.build_dir} --update (and say why in the commit).")
        return 1
    print(f"PASS: every workload within +{tol * 100:.0f} % of the stored {buildtype} figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
