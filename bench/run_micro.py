#!/usr/bin/env python3
"""Runs elegy's microbenchmarks and their peers (libtorch, plain C++ + OpenBLAS) at 1 and 2
threads, interleaved in one run, and prints one table with ratios.

    python3 bench/run_micro.py [--build build-bench] [--threads 1 2] [--filter SUBSTR]

Ratios: "vs torch" = torch time / elegy time (> 1: elegy is faster). "of roofline" = elegy's
achieved bandwidth as a fraction of the measured copy bandwidth (elementwise, reductions), or
elegy's GEMM time relative to OpenBLAS called directly (sgemm).
"""
import argparse
import collections
import subprocess
import sys
from pathlib import Path

# Bytes moved per element for the memory-bound cases (reads + writes), float32.
BYTES_PER_ELEMENT = {"add": 12, "mul": 12, "muladd": 12, "exp": 8, "sum": 4, "copy": 8, "softmax": 8}
SIZES = {"1K": 1000, "1M": 1 << 20, "16M": 16 << 20, "4096x1024": 4096 * 1024}


def run(binary, threads, filt):
    if not binary.exists():
        print(f"(skipping {binary.name}: not built)", file=sys.stderr)
        return []
    cmd = [str(binary), "--threads", str(threads)] + (["--filter", filt] if filt else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        impl, case, thr, us = line.split(",")
        rows.append((impl, case, int(thr), float(us)))
    return rows


def gbps(case, us):
    op, _, size = case.partition("_")
    if op not in BYTES_PER_ELEMENT or size not in SIZES:
        return None
    return BYTES_PER_ELEMENT[op] * SIZES[size] / (us * 1e-6) / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-bench")
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    bench_dir = Path(args.build) / "bench"
    binaries = [bench_dir / "peers" / "bench_reference", bench_dir / "peers" / "bench_torch_ops",
                bench_dir / "bench_elegy_micro"]
    results = collections.defaultdict(dict)  # (case, threads) -> impl -> us
    for threads in args.threads:
        for b in binaries:
            for impl, case, thr, us in run(b, threads, args.filter):
                results[(case, thr)][impl] = us

    print(f"| case | threads | elegy µs | torch µs | vs torch | elegy GB/s | roofline |")
    print(f"|---|---|---|---|---|---|---|")
    for (case, thr), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if "elegy" not in r:
            continue
        e, t = r["elegy"], r.get("torch")
        vs = f"{t / e:.2f}x" if t else "-"
        bw = gbps(case, e)
        roof = "-"
        if case.startswith("sgemm") and "ref" in r:
            roof = f"{r['ref'] / e:.0%} of OpenBLAS"
        elif bw is not None:
            size = case.partition("_")[2]
            copy = results.get((f"copy_{size}", thr), {}).get("ref")
            if copy is None:
                copy = results.get(("copy_16M", thr), {}).get("ref")
                size = "16M"
            if copy:
                roof = f"{bw / gbps('copy_' + size, copy):.0%} of copy"
        bw_s = f"{bw:.1f}" if bw is not None else "-"
        t_s = f"{t:.3f}" if t else "-"
        print(f"| {case} | {thr} | {e:.3f} | {t_s} | {vs} | {bw_s} | {roof} |")


if __name__ == "__main__":
    main()
