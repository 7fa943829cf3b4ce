#!/usr/bin/env python3
"""PyTorch on CUDA on the same cases as bench/gpu/gpu_micro.cpp (same burst-then-synchronise
timing, same CSV contract: "torch_gpu,<case>,1,<median_us>"), plus a matmul elegy does not have
on CUDA yet. With --elegy-csv, also prints a side-by-side table (ratio > 1: elegy is faster).

    python3 bench/gpu/torch_peer.py [--elegy-csv FILE] [--filter SUBSTR]
"""
import argparse
import statistics
import sys
import time

import torch

BURST = 10


def median_us(fn, min_seconds=0.3, min_samples=5):
    for _ in range(3):  # warm-up: caching allocator, cuBLAS handles, clocks
        fn()
    torch.cuda.synchronize()
    samples, start = [], time.perf_counter()
    while len(samples) < min_samples or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        for _ in range(BURST):
            fn()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) / BURST * 1e6)
    return statistics.median(samples)


def cases():
    dev = torch.device("cuda")
    m1, m16, m64 = 1 << 20, 16 << 20, 64 << 20
    a4, b4 = torch.ones(4, device=dev), torch.ones(4, device=dev)
    a1, b1 = torch.ones(m1, device=dev), torch.ones(m1, device=dev)
    a16, b16 = torch.ones(m16, device=dev), torch.ones(m16, device=dev)
    mat, row = torch.ones(4096, 1024, device=dev), torch.ones(1024, device=dev)
    host16 = torch.ones(m16)
    a64, b64 = torch.ones(m64, device=dev), torch.ones(m64, device=dev)
    g = torch.Generator(device=dev).manual_seed(0)
    sq = {n: torch.randn(n, n, device=dev, generator=g) for n in (1024, 4096)}
    return [
        ("add_4_host_per_op", 12 * 4, lambda: a4 + b4),  # the host's cost of one op
        ("add_1M", 12 * m1, lambda: a1 + b1),
        ("add_16M", 12 * m16, lambda: a16 + b16),
        ("copy_64M", 8 * m64, lambda: a64.clone()),
        ("add_64M", 12 * m64, lambda: a64 + b64),
        ("exp_64M", 8 * m64, lambda: torch.exp(a64)),
        ("sum_64M", 4 * m64, lambda: a64.sum()),
        ("mul_16M", 12 * m16, lambda: a16 * b16),
        ("exp_16M", 8 * m16, lambda: torch.exp(a16)),
        ("add_bcast_4096x1024", 8 * 4096 * 1024, lambda: mat + row),
        ("full_16M", 4 * m16, lambda: torch.full((m16,), 2.0, device=dev)),
        ("astype_f64_16M", 12 * m16, lambda: a16.to(torch.float64)),
        ("transpose_copy_4096x1024", 8 * 4096 * 1024, lambda: mat.t().contiguous()),
        ("h2d_64MB", 4 * m16, lambda: host16.to(dev)),
        ("d2h_64MB", 4 * m16, lambda: a16.cpu()),
        # FLOPs, not bytes, for the matmuls (reported as GFLOP/s).
        ("matmul_f32_1024", -2 * 1024**3, lambda: sq[1024] @ sq[1024]),
        ("matmul_f32_4096", -2 * 4096**3, lambda: sq[4096] @ sq[4096]),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--elegy-csv", help="gpu_micro's stdout, for the comparison table")
    parser.add_argument("--filter", default="")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("torch_peer.py: torch sees no CUDA device")
    print(f"# torch {torch.__version__} on {torch.cuda.get_device_name(0)}", file=sys.stderr)
    torch.backends.cuda.matmul.allow_tf32 = False  # elegy computes float32 GEMMs in float32

    results = {}
    for name, work, fn in cases():
        if args.filter not in name:
            continue
        us = median_us(fn)
        results[name] = us
        print(f"torch_gpu,{name},1,{us:.3f}")
        rate = f"{-work / (us * 1e3):8.1f} GFLOP/s" if work < 0 else f"{work / (us * 1e3):8.1f} GB/s"
        print(f"  torch_gpu {name:24s} {us:10.3f} us  {rate}", file=sys.stderr)

    if args.elegy_csv:
        elegy = {}
        with open(args.elegy_csv) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) == 4:
                    elegy[parts[1]] = float(parts[3])
        print("\n# case                       elegy_us    torch_us   torch/elegy", file=sys.stderr)
        for name, us in results.items():
            if name in elegy:
                print(f"  {name:24s} {elegy[name]:11.3f} {us:11.3f} {us / elegy[name]:11.2f}",
                      file=sys.stderr)
            else:
                print(f"  {name:24s} {'n/a':>11s} {us:11.3f}", file=sys.stderr)
        # The bar: elementwise and reductions at >= 85% of a device-to-device copy's
        # bandwidth at 64M elements (bytes moved per second, against elegy's own copy).
        bytes_per = {"add_64M": 12, "exp_64M": 8, "sum_64M": 4}
        if "copy_64M" in elegy:
            copy_rate = 8 / elegy["copy_64M"]
            print("\n# elegy bandwidth as a fraction of its device-to-device copy (bar: 85%)",
                  file=sys.stderr)
            for name, per in bytes_per.items():
                if name in elegy:
                    print(f"  {name:24s} {100 * (per / elegy[name]) / copy_rate:6.1f}%",
                          file=sys.stderr)


if __name__ == "__main__":
    main()
