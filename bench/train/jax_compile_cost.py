#!/usr/bin/env python3
"""The JAX peer of bench_train_recording (issue 7): what jax.jit's train step costs before it
runs at speed. The same networks as recording_cost.cpp (the benchmark MLP b128 and CNN b64, deep
MLPs of 400 and 1600 Linear(16)+relu layers at b8) and the same step as jax_train.py
(value_and_grad + optax.adam(1e-3) + apply_updates, params and optimizer state donated).

    python jax_compile_cost.py [--repeats N]

first_call: a fresh jax.jit of the step, called once (trace + lower + compile + run), timed to
block_until_ready; second_call and step: later calls. Each repeat clears JAX's caches so the
first call compiles again. Prints `jax,case,phase,ms` lines like bench_train_recording.
"""
import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import optax
from jax import lax


def dense_init(key, n_in, n_out):
    return {"w": jax.random.normal(key, (n_in, n_out)) * (2.0 / n_in) ** 0.5,
            "b": jnp.zeros((n_out,))}


def conv_init(key, c_in, c_out):
    return {"w": jax.random.normal(key, (3, 3, c_in, c_out)) * (2.0 / (9 * c_in)) ** 0.5,
            "b": jnp.zeros((c_out,))}


def make(case):
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 2000))
    if case == "mlp_b128":
        params = [dense_init(next(keys), 784, 512), dense_init(next(keys), 512, 512),
                  dense_init(next(keys), 512, 10)]

        def forward(p, x):
            h = jax.nn.relu(x @ p[0]["w"] + p[0]["b"])
            h = jax.nn.relu(h @ p[1]["w"] + p[1]["b"])
            return h @ p[2]["w"] + p[2]["b"]
        return params, forward, (128, 784)
    if case == "cnn_b64":
        params = [conv_init(next(keys), 1, 32), conv_init(next(keys), 32, 64),
                  dense_init(next(keys), 7 * 7 * 64, 128), dense_init(next(keys), 128, 10)]

        def conv(p, x):
            y = lax.conv_general_dilated(x, p["w"], (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
            return jax.nn.relu(y + p["b"])

        def pool(x):
            return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

        def forward(p, x):
            h = pool(conv(p[1], pool(conv(p[0], x))))
            h = jax.nn.relu(h.reshape(h.shape[0], -1) @ p[2]["w"] + p[2]["b"])
            return h @ p[3]["w"] + p[3]["b"]
        return params, forward, (64, 28, 28, 1)
    layers = int(case[len("deep"):case.index("_")])
    params = [dense_init(next(keys), 16, 16) for _ in range(layers)]
    params.append(dense_init(next(keys), 16, 10))

    def forward(p, x):
        h = x
        for layer in p[:-1]:
            h = jax.nn.relu(h @ layer["w"] + layer["b"])
        return h @ p[-1]["w"] + p[-1]["b"]
    return params, forward, (8, 16)


def measure(case, repeats):
    params0, forward, x_shape = make(case)
    x = jax.random.normal(jax.random.PRNGKey(1), x_shape)
    y = jax.random.randint(jax.random.PRNGKey(2), (x_shape[0],), 0, 10)
    opt = optax.adam(1e-3)

    def loss_fn(p, x, y):
        logits = forward(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def train_step(p, s, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    first, second, steps = [], [], []
    for _ in range(repeats):
        jax.clear_caches()
        step = jax.jit(train_step, donate_argnums=(0, 1))
        p = jax.tree_util.tree_map(jnp.copy, params0)
        s = opt.init(p)
        jax.block_until_ready((p, s))
        t0 = time.perf_counter()
        p, s, loss = step(p, s, x, y)
        jax.block_until_ready((p, loss))
        first.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        p, s, loss = step(p, s, x, y)
        jax.block_until_ready((p, loss))
        second.append((time.perf_counter() - t0) * 1e3)
        for _ in range(5):
            t0 = time.perf_counter()
            p, s, loss = step(p, s, x, y)
            jax.block_until_ready((p, loss))
            steps.append((time.perf_counter() - t0) * 1e3)
    print(f"jax,{case},first_call,{statistics.median(first):.2f}")
    print(f"jax,{case},second_call,{statistics.median(second):.2f}")
    print(f"jax,{case},replay,{statistics.median(steps):.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    jax.config.update("jax_platforms", "cpu")
    for case in ["mlp_b128", "cnn_b64", "deep400_b8", "deep1600_b8"]:
        if args.filter in case:
            measure(case, args.repeats)


if __name__ == "__main__":
    main()
