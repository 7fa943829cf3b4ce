#!/usr/bin/env python3
"""JAX + optax training steps for issue 8: the same networks, initial weights and batches as
bench_train_elegy (elegy's layouts: NHWC, HWIO, Linear w [in, out]), with `jax.jit` of the whole
step (value_and_grad + optax.adam(1e-3) update + apply_updates; params and optimizer state
donated). Forward only: a jitted forward pass.

    python jax_train.py --data DIR [--threads N] [--losses FILE] [--filter SUBSTR]
                        [--device cpu|gpu] [--workloads cpu|gpu]
                        [--min-seconds S] [--min-steps N] [--warmup N]

Threads are XLA's business and are set before the process starts (run.py does it): for 1
thread XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" plus a
one-core CPU affinity (taskset), for 2 threads the defaults. --threads only labels the rows.
Prints `jax,case,threads,median_us` lines like the C++ benchmarks; each timed step ends with
block_until_ready on the loss and the new parameters.

--device cpu (the default) keeps JAX on its CPU backend even where it has a GPU one; --device
gpu runs on JAX's default GPU device (exit status 3, with a message, when JAX has no GPU backend)
with float32 matmuls and convolutions at full precision (JAX's GPU default is TF32), as elegy
and the PyTorch peer (torch_gpu_train.py) compute them. --workloads gpu (the default on --device
gpu) adds mlp_b1024 to issue 8's workloads, as bench_train_elegy does.
"""
import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

NUM_BATCHES = 10
WORKLOADS = [("mlp", 32), ("mlp", 128), ("mlp", 512), ("cnn", 64)]
GPU_WORKLOADS = [("mlp", 32), ("mlp", 128), ("mlp", 512), ("mlp", 1024), ("cnn", 64)]
LAYERS = {"mlp": ["linear", "linear_1", "linear_2"],
          "cnn": ["conv2_d", "conv2_d_1", "linear", "linear_1"]}


def dense(p, x):
    return x @ p["w"] + p["b"]


def conv_same(p, x):
    y = lax.conv_general_dilated(x, p["w"], (1, 1), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + p["b"]


def max_pool2(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def forward(net, params, x):
    if net == "mlp":
        h = jax.nn.relu(dense(params["linear"], x))
        h = jax.nn.relu(dense(params["linear_1"], h))
        return dense(params["linear_2"], h)
    h = max_pool2(jax.nn.relu(conv_same(params["conv2_d"], x)))
    h = max_pool2(jax.nn.relu(conv_same(params["conv2_d_1"], h)))
    h = jax.nn.relu(dense(params["linear"], h.reshape(h.shape[0], -1)))
    return dense(params["linear_1"], h)


def load(data, net, batch):
    params = {layer: {leaf: jnp.asarray(np.load(data / net / f"{layer}.{leaf}.npy"))
                      for leaf in ("w", "b")} for layer in LAYERS[net]}
    images = np.load(data / "images.npy").astype(np.float32) / np.float32(255.0)
    labels = np.load(data / "labels.npy")
    shape = (batch, 784) if net == "mlp" else (batch, 28, 28, 1)
    batches = [(jnp.asarray(images[i * batch:(i + 1) * batch].reshape(shape)),
                jnp.asarray(labels[i * batch:(i + 1) * batch].astype(np.int32)))
               for i in range(NUM_BATCHES)]
    return params, batches


def median_step_us(args, step):
    for i in range(args.warmup):
        step(i)
    samples, start, i = [], time.perf_counter(), args.warmup
    while True:
        t0 = time.perf_counter()
        step(i)
        t1 = time.perf_counter()
        samples.append((t1 - t0) * 1e6)
        i += 1
        elapsed = t1 - start
        if (len(samples) >= args.min_steps and elapsed >= args.min_seconds) or elapsed >= 30:
            break
    return float(np.median(samples))


def run(args, net, batch):
    name = f"{net}_b{batch}"
    params, batches = load(Path(args.data), net, batch)
    tx = optax.adam(1e-3)
    opt_state = tx.init(params)

    def loss_fn(p, x, y):
        logits = forward(net, p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def infer(p, x):
        return forward(net, p, x)

    def train_step(p, s, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    step_fn = jax.jit(train_step, donate_argnums=(0, 1))
    state = {"p": params, "s": opt_state}

    def step(i):
        x, y = batches[i % NUM_BATCHES]
        state["p"], state["s"], loss = step_fn(state["p"], state["s"], x, y)
        jax.block_until_ready((loss, state["p"]))
        return loss

    losses = [float(step(i)) for i in range(NUM_BATCHES)]
    if args.losses:
        with open(args.losses, "a") as f:
            for k, v in enumerate(losses):
                f.write(f"jax,{name},{k},{v:.9g}\n")
    rows = [(f"{name}_train", median_step_us(args, step))]

    def forward_only(i):
        jax.block_until_ready(infer(state["p"], batches[i % NUM_BATCHES][0]))

    rows.append((f"{name}_infer", median_step_us(args, forward_only)))
    for case, us in rows:
        print(f"jax,{case},{args.threads},{us:.1f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--losses", default="")
    ap.add_argument("--filter", default="")
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--min-steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--workloads", choices=["cpu", "gpu"], default=None,
                    help="gpu adds mlp_b1024 (default: the --device)")
    args = ap.parse_args()
    # Both settings must precede the first computation, which picks and starts the backend.
    if args.device == "cpu":
        jax.config.update("jax_platforms", "cpu")
    else:
        if jax.default_backend() != "gpu":
            print(f"jax_train.py: --device gpu, but JAX's default backend is "
                  f"{jax.default_backend()} (no jaxlib CUDA plugin?)", file=sys.stderr)
            sys.exit(3)
        jax.config.update("jax_default_matmul_precision", "highest")
    workload_set = args.workloads or args.device
    for net, batch in GPU_WORKLOADS if workload_set == "gpu" else WORKLOADS:
        if args.filter in f"{net}_b{batch}":
            run(args, net, batch)


if __name__ == "__main__":
    main()
