#!/usr/bin/env python3
"""Training steps on a GPU: elegy (bench_train_elegy --device cuda, the Model path and the
low-level value_and_grad + optim path) against PyTorch eager (bench/train/torch_gpu_train.py) and
JAX jit (bench/train/jax_train.py --device gpu, when JAX has a GPU backend) on the MLP
784-512-512-10 at batch 128 and 1024 and the CNN at batch 64, all from the same initial weights
and batches, Adam(1e-3), softmax cross-entropy from logits. Prints one markdown table of ms per
step and ratios (peer / elegy: above 1, elegy is faster) and checks that elegy's first 10 losses
(both paths) agree with PyTorch's to 1e-3 relative (exit status 1 if not; JAX's are shown, not
enforced).

    python3 bench/gpu/train.py --build BUILD [--out DIR] [--device cuda|cpu]
                               [--workloads mlp_b128 mlp_b1024 cnn_b64] [--fashion-mnist DIR]
                               [--library-path DIRS] [--min-seconds S] [--min-steps N]

Runs <BUILD>/bench/train/bench_train_elegy (cmake target bench_train_elegy,
-DELEGY_BUILD_BENCHMARKS=ON) and the two Python peers with this interpreter (PyTorch with CUDA;
JAX + optax optional). The inputs are written once by bench/train/gen_data.py into
<BUILD>/bench/train/data-gpu (10240 images: 10 batches of 1024; Fashion-MNIST from
--fashion-mnist when it is there, else seeded random pixels). --library-path is prepended to
LD_LIBRARY_PATH for bench_train_elegy only (run.sh passes its unpacked OpenBLAS). --device cpu
runs the same on the CPU, to test this script on a machine without a GPU. bench/gpu/run.sh runs
it in its bench stage.

Every timed step ends when the device is done with it (elegy: a stream synchronisation; PyTorch:
torch.cuda.synchronize(); JAX: block_until_ready); the median over at least --min-steps steps
after 10 warm-up steps. TF32 is off in PyTorch and JAX, since elegy computes float32 GEMMs and
convolutions in float32. Writes <OUT>/train.csv (every row, phases included) and
<OUT>/train.md (the report).
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TRAIN = REPO / "bench" / "train"
sys.path.insert(0, str(TRAIN))
from run import run  # noqa: E402  (bench/train/run.py: runs one process, returns its CSV rows)

DEFAULT_WORKLOADS = ["mlp_b128", "mlp_b1024", "cnn_b64"]
BATCHES = {"mlp_b32": 32, "mlp_b128": 128, "mlp_b512": 512, "mlp_b1024": 1024, "cnn_b64": 64}
NUM_BATCHES = 10
TOLERANCE = 1e-3  # relative, on each of the first 10 losses (float32 on the GPU, no TF32)
WARMUP = 10
ELEGY = ("elegy_model", "elegy_lowlevel")


def ensure_data(data, fashion_mnist):
    """Writes the inputs unless a data dir with enough images for batch 1024 is already there."""
    labels = data / "labels.npy"
    needed = max(BATCHES.values()) * NUM_BATCHES
    if labels.exists():
        import numpy as np  # only here: the rest of this script needs no numpy
        if len(np.load(labels, mmap_mode="r")) >= needed:
            return
    cmd = [sys.executable, TRAIN / "gen_data.py", data, "--images", needed]
    if fashion_mnist:
        cmd += ["--fashion-mnist", fashion_mnist]
    subprocess.run([str(c) for c in cmd], check=True, stdout=sys.stderr)


def jax_note(python, backend):
    """None when `python` has JAX + optax with `backend` ("gpu", "cpu") as its default;
    else why the JAX rows are skipped."""
    probe = ("import sys, jax, optax; b = jax.default_backend(); "
             f"sys.exit(0 if b == '{backend}' else f'JAX default backend is {{b}}, not {backend}')")
    proc = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"probe exit status {proc.returncode}"


def measure(workloads, runners, timing, loss_dir):
    """Runs every (label, command, env) of `runners` on every workload; returns the CSV rows
    and the (label, what failed) of every process that failed. Each runner
    appends its first losses to <loss_dir>/<label>.csv."""
    rows, failures = [], []
    # One process per workload and implementation, interleaved, so a slow drift of the machine
    # (clocks, other tenants) touches every implementation alike. A failed process costs only
    # its own rows: on a rare lent GPU, one crash must not hide every other measurement.
    # A runner with a fourth entry reports its rows under that name (and its losses apart).
    (loss_dir / "renamed").mkdir(exist_ok=True)
    for workload in workloads:
        for label, cmd, env, *rename in runners:
            losses = loss_dir / ("renamed" if rename else ".") / f"{label}.csv"
            cmd = cmd + ["--filter", workload, "--losses", losses] + timing
            try:
                got = run(cmd, env=env, label=f"{label} {workload}")
                rows += [(rename[0], *r[1:]) for r in got] if rename else got
            except SystemExit as e:
                failures.append((label, f"{workload}: {e}"))
    return rows, failures


def read_losses(loss_dir):
    """impl -> workload -> losses in step order, from the `impl,workload,step,loss` files."""
    steps = {}
    for f in loss_dir.glob("*.csv"):
        for line in f.read_text().splitlines():
            impl, workload, step, loss = line.split(",")
            steps.setdefault(impl, {}).setdefault(workload, []).append((int(step), float(loss)))
    return {impl: {w: [v for _, v in sorted(vals)] for w, vals in per.items()}
            for impl, per in steps.items()}


def table(times, workloads, device):
    out = []
    p = out.append
    unit = "GPU" if device == "cuda" else "CPU"
    p(f"ms per step on the {unit}, median of the timed steps after warm-up; ratio = peer time / "
      "elegy time (> 1: elegy faster).\n")
    p("| workload | elegy Model ms | Model eager ms | Model graphs ms | elegy low-level ms "
      "| PyTorch eager ms | JAX jit ms | Model samples/s | torch/Model | torch/graphs "
      "| torch/low-level | JAX/Model | JAX/graphs | JAX/low-level |")
    p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    fmt = lambda us: f"{us / 1e3:.3f}" if us else "-"
    ratio = lambda peer, e: f"{peer / e:.2f}x" if peer and e else "-"
    for workload in workloads:
        for kind in ("train", "infer"):
            r = times.get(f"{workload}_{kind}", {})
            em, el = r.get("elegy_model"), r.get("elegy_lowlevel")
            tb, jx = r.get("torch_eager"), r.get("jax")
            rate = f"{BATCHES[workload] / (em * 1e-6):,.0f}" if em else "-"
            eg = r.get("elegy_model_graphs")
            p(f"| {workload} {kind} | {fmt(em)} | {fmt(r.get('elegy_model_eager'))} | {fmt(eg)} | "
              f"{fmt(el)} | {fmt(tb)} | {fmt(jx)} | {rate} | {ratio(tb, em)} | {ratio(tb, eg)} | "
              f"{ratio(tb, el)} | {ratio(jx, em)} | {ratio(jx, eg)} | {ratio(jx, el)} |")
    return out


def loss_check(losses, workloads):
    """Report lines and failures: every implementation's first losses against PyTorch's."""
    out, failures = ["\nFirst 10 losses (same initial weights, same batches):\n"], []
    for workload in workloads:
        ref = losses.get("torch_eager", {}).get(workload)
        if not ref:
            failures.append(f"{workload}: no PyTorch losses to check against")
            continue
        out.append(f"- {workload}, torch_eager: " + ", ".join(f"{v:.6f}" for v in ref))
        for impl in ELEGY + ("jax",):
            vals = losses.get(impl, {}).get(workload)
            if vals is None:
                if impl in ELEGY:
                    failures.append(f"{workload}: no {impl} losses")
                continue
            worst = max(abs(a - b) / abs(b) for a, b in zip(vals, ref)) if vals else float("inf")
            ok = len(vals) == len(ref) and worst <= TOLERANCE
            enforced = impl in ELEGY
            if enforced and not ok:
                failures.append(f"{workload}: {impl} max rel diff {worst:.2e}")
            out.append(f"  - {impl}: max rel diff {worst:.1e} "
                       f"{'ok' if ok else ('FAIL' if enforced else '(informational)')}"
                       + ("" if ok else ": " + ", ".join(f"{v:.6f}" for v in vals)))
    return out, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-gpu")
    ap.add_argument("--out", default="", help="where train.csv/train.md go (default: <build>/out)")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--workloads", nargs="+", choices=sorted(BATCHES), default=DEFAULT_WORKLOADS)
    ap.add_argument("--fashion-mnist", default="", help="dir with the Fashion-MNIST .gz files")
    ap.add_argument("--library-path", default="", help="prepended to bench_train_elegy's "
                    "LD_LIBRARY_PATH")
    ap.add_argument("--jax-python", default=sys.executable,
                    help="python with jax + optax (default: this one)")
    ap.add_argument("--min-seconds", type=float, default=0.5, help="timed seconds per case")
    ap.add_argument("--min-steps", type=int, default=50, help="timed steps per case (at least)")
    args = ap.parse_args()

    build = Path(args.build)
    elegy_bin = build / "bench" / "train" / "bench_train_elegy"
    if not elegy_bin.exists():
        raise SystemExit(f"{elegy_bin} is not built: configure with -DELEGY_BUILD_BENCHMARKS=ON, "
                         f"then cmake --build {build} --target bench_train_elegy")
    out_dir = Path(args.out) if args.out else build / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    data = build / "bench" / "train" / "data-gpu"
    ensure_data(data, args.fashion_mnist)

    elegy_env = dict(os.environ)
    if args.library_path:
        old = elegy_env.get("LD_LIBRARY_PATH")
        elegy_env["LD_LIBRARY_PATH"] = args.library_path + (f":{old}" if old else "")
    jax_device = "gpu" if args.device == "cuda" else "cpu"
    no_jax = jax_note(args.jax_python, jax_device)
    if no_jax:
        print(f"  JAX rows skipped: {no_jax}", file=sys.stderr)

    timing = ["--data", data, "--min-seconds", args.min_seconds, "--min-steps", args.min_steps,
              "--warmup", WARMUP]
    runners = [
        ("elegy", [elegy_bin, "--device", args.device, "--workloads", "gpu"], elegy_env),
        # The Model path with its compiled train step off (every step op by op).
        ("elegy_eager", [elegy_bin, "--device", args.device, "--workloads", "gpu", "--path",
                         "model"], dict(elegy_env, ELEGY_RUN_EAGERLY="1"), "elegy_model_eager"),
        # The Model path with its replays launched as CUDA graphs (ModelOptions::cuda_graphs).
        ("elegy_graphs", [elegy_bin, "--device", args.device, "--workloads", "gpu", "--path",
                          "model"], dict(elegy_env, ELEGY_CUDA_GRAPHS="1"), "elegy_model_graphs"),
        ("torch", [sys.executable, TRAIN / "torch_gpu_train.py", "--device", args.device], None),
    ]
    if not no_jax:
        runners.append(("jax", [args.jax_python, TRAIN / "jax_train.py", "--device", jax_device,
                                "--workloads", "gpu"], None))
    with tempfile.TemporaryDirectory(prefix="bench-gpu-train-losses-") as loss_dir:
        rows, run_failures = measure(args.workloads, runners, timing, Path(loss_dir))
        losses = read_losses(Path(loss_dir))
    times = collections.defaultdict(dict)  # case -> impl -> us
    for impl, case, _, us in rows:
        times[case][impl] = us

    report = table(times, args.workloads, args.device)
    if no_jax:
        report.append(f"\nJAX: skipped ({no_jax}).")
    for label, failure in run_failures:
        report.append(f"\n{label} failed on {failure}")
    check_lines, failures = loss_check(losses, args.workloads)
    # JAX is optional (reported, not enforced); elegy or PyTorch failing fails the bench.
    failures += [f"{label} failed on {f}" for label, f in run_failures if label != "jax"]
    report += check_lines
    text = "\n".join(report)
    print(text)
    (out_dir / "train.md").write_text(text + "\n")
    (out_dir / "train.csv").write_text(
        "".join(f"{impl},{case},{thr},{us}\n" for impl, case, thr, us in rows))
    if failures:
        print(f"\nFAILED (loss tolerance {TOLERANCE:g} relative):\n  "
              + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print(f"\nloss check passed: elegy (both paths) and PyTorch agree to {TOLERANCE:g} relative",
          file=sys.stderr)


if __name__ == "__main__":
    main()
