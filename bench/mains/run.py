#!/usr/bin/env python3
"""elegy's Fashion-MNIST sample mains (examples/mlp.cpp, examples/cnn.cpp) beside their libtorch
twins (bench/mains/torch_{mlp,cnn}.cpp): the same model, initialisation scheme, loss, optimizer,
learning-rate schedule, batch size and epochs. Prints one markdown table of seconds per epoch
(training plus the validation pass fit runs after each epoch, as the examples time it) and final
test accuracy (also written to <build>/bench/mains/results.md; each program's full output goes to
<build>/bench/mains/logs/).

    python3 bench/mains/run.py [--build build] [--epochs 10] [--batch-size 64]
                               [--threads 1 2] [--data DIR]

Builds nothing: it runs <build>/examples/{mlp,cnn} and <build>/bench/mains/torch_{mlp,cnn}
(cmake targets mlp, cnn, torch_mlp, torch_cnn; the last two need -DELEGY_BUILD_BENCHMARKS=ON and
libtorch). Each thread count N runs every program once:
  elegy    ELEGY_NUM_THREADS=N (the size of elegy's pool; its OpenBLAS calls stay single-threaded)
  libtorch --threads N (torch::set_num_threads(N) and openblas_set_num_threads(N))
The ratio is libtorch's s/epoch over elegy's at the same thread count: above 1, elegy is faster.
Accuracies come from different random streams (initial weights, batch order, dropout masks), so
they differ by run-to-run noise, not by method.
"""
import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

MODELS = ["mlp", "cnn"]
FINAL_LINE = re.compile(r"^test accuracy: ([0-9.]+) \(loss ([0-9.]+)\) after (\d+) epochs, "
                        r"([0-9.]+) s per epoch$")


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(cmd, env, log_path):
    """Runs one program to completion; returns (accuracy, loss, s/epoch) from its final line."""
    print(f"  running {' '.join(map(str, cmd))}", file=sys.stderr, flush=True)
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    log_path.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{cmd[0]} failed with status {proc.returncode} (output: {log_path})")
    for line in reversed(proc.stdout.splitlines()):
        m = FINAL_LINE.match(line.strip())
        if m:
            return float(m.group(1)), float(m.group(2)), float(m.group(4))
    raise SystemExit(f"{cmd[0]} printed no 'test accuracy: ...' line (output: {log_path})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="the cmake build folder")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--data", help="folder of the four Fashion-MNIST IDX files (default: the "
                    "programs' own, Debian's dataset-fashion-mnist)")
    args = ap.parse_args()

    build = Path(args.build).resolve()
    programs = {}
    for model in MODELS:
        programs[("elegy", model)] = build / "examples" / model
        programs[("libtorch", model)] = build / "bench" / "mains" / f"torch_{model}"
    missing = [str(p) for p in programs.values() if not p.exists()]
    if missing:
        raise SystemExit("missing (build targets mlp cnn torch_mlp torch_cnn): " + ", ".join(missing))
    logs = build / "bench" / "mains" / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    common = ["--epochs", args.epochs, "--batch-size", args.batch_size]
    if args.data:
        common += ["--data", args.data]
    load_before = load_average()
    results = {}  # (model, framework, threads) -> (accuracy, loss, s/epoch)
    for threads in args.threads:
        for model in MODELS:
            env = dict(os.environ, ELEGY_NUM_THREADS=str(threads))
            results[(model, "elegy", threads)] = run(
                [programs[("elegy", model)]] + common, env,
                logs / f"elegy_{model}_t{threads}.log")
            results[(model, "libtorch", threads)] = run(
                [programs[("libtorch", model)]] + common + ["--threads", threads], dict(os.environ),
                logs / f"torch_{model}_t{threads}.log")

    lines = [f"Fashion-MNIST, epochs: {args.epochs}, batch size {args.batch_size}; load average "
             f"{load_before} before, {load_average()} after.", "",
             "| model | framework (threads) | s/epoch | test accuracy | s/epoch vs elegy |",
             "|---|---|---:|---:|---:|"]
    for model in MODELS:
        for threads in args.threads:
            elegy_seconds = results[(model, "elegy", threads)][2]
            for framework in ["elegy", "libtorch"]:
                accuracy, _, seconds = results[(model, framework, threads)]
                ratio = seconds / elegy_seconds if elegy_seconds > 0 else float("nan")
                lines.append(f"| {model} | {framework} ({threads}) | {seconds:.2f} | "
                             f"{accuracy:.4f} | {ratio:.2f} |")
    table = "\n".join(lines)
    print(table)
    (build / "bench" / "mains" / "results.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
