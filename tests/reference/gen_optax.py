#!/usr/bin/env python3
"""Generates tests/optim/optax_reference_data.hpp: optax's parameter trajectories that
tests/optim/optax_reference_test.cpp replays with elegy's optimizers.

Every optimizer configuration below runs for STEPS steps on three fixed problems (a parabola, a
set of Rosenbrock functions, and a small two-layer linear network with leaves of three shapes),
in float32 (plain JAX) and in
float64 (jax_enable_x64, in a second process, because the flag changes how JAX types Python
numbers). Updates run eagerly (no jit around them; optax jits a few helpers itself, such as its
bias correction), so each op is rounded as XLA rounds it alone. The gradients are written out by
hand with the same operations, in the same order, as the C++ test computes them, so only the
optimizers are compared.

A few XLA operations are not IEEE-exact (lax.rsqrt is within ~1.6 ulp of 1 / sqrt; the float32
pow inside jitted or conditional code; the fusions inside lax.cond), so elegy's results can sit
an ulp away at a step. The learning rates are chosen so that no configuration is chaotic over
the 50 steps (such a difference stays an ulp instead of growing past the tolerance); for the
rmsprop ones this was checked by rerunning optax itself with rsqrt replaced by 1 / sqrt, which
stays within 0.65 of the float32 tolerance.

To keep the data file small, only the params after the steps in RECORDED_STEPS are written (the
C++ replay still runs every step, and compares after those).

Some configurations need more than an optimizer (their `extras`): "nan_steps" multiplies the
first leaf's gradient by NaN at those (0-based) steps, for apply_if_finite and zero_nans;
"lookahead" replaces the params by optax.LookaheadParams (fast, slow), both recorded.

Also writes optax's schedules evaluated at steps 0..SCHEDULE_STEPS, in float64 (the step given
as int64: see float64_schedule).

Needs jax and optax from PyPI (CPU; the versions used are in requirements.txt beside this file).
Run from anywhere:
    python3 tests/reference/gen_optax.py
"""

import json
import os
import subprocess
import sys

STEPS = 50
RECORDED_STEPS = [1, 2, 3, 4, 5] + list(range(10, STEPS + 1, 5))
SCHEDULE_STEPS = 50
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "optim", "optax_reference_data.hpp")

# ---- the problems (the C++ test builds the same trees from the constants written out) ----
# Leaves are listed in sorted-key order: JAX's dict order and elegy's Tree order.
PROBLEMS = {
    "parabola": {
        "shapes": {"u": [5], "v": [2, 3]},
        "init": {
            "u": [1.5, -2.0, 0.3, 4.0, -0.7],
            "v": [0.2, -1.1, 2.5, 3.0, -0.4, 0.9],
        },
        "constants": {
            "a_u": [1.0, 0.5, 2.0, 0.1, 3.0],
            "c_u": [0.5, 1.0, -1.0, 2.0, 0.0],
            "a_v": [1.5, 0.8, 0.3, 2.5, 1.0, 0.6],
            "c_v": [-0.5, 0.7, 1.2, 0.1, -2.0, 0.4],
        },
        "lr_sgd": 0.1,
        "lr_adaptive": 0.1,
    },
    "rosenbrock": {
        "shapes": {"x": [3], "y": [3]},
        "init": {"x": [-1.2, 0.0, 0.5], "y": [1.0, 0.5, -0.3]},
        "constants": {},
        "lr_sgd": 1e-4,
        "lr_adaptive": 0.02,
    },
    "mlp": {
        "shapes": {"b1": [4], "w1": [3, 4], "w2": [4, 2]},
        "init": {
            "b1": [0.1, -0.2, 0.05, 0.0],
            "w1": [0.3, -0.5, 0.8, 0.1, -0.7, 0.2, 0.4, -0.3, 0.6, 0.9, -0.1, 0.25],
            "w2": [0.5, -0.4, 0.3, 0.7, -0.6, 0.2, 0.1, -0.8],
        },
        "constants": {
            "x": [1.0, 0.5, -1.0, -0.3, 2.0, 0.7, 0.8, -1.5, 0.2,
                  1.2, 0.1, -0.6, -0.9, 0.4, 1.1],  # [5, 3]
            "t": [1.0, -1.0, 0.5, 2.0, -0.5, 0.3, 1.5, 0.0, -1.2, 0.8],  # [5, 2]
        },
        "lr_sgd": 0.05,
        "lr_adaptive": 0.01,
    },
}


def float64_schedule(jax):
    """Wraps a schedule so that, with x64 on, it computes in float64 as elegy's schedules do.

    optax calls schedules with its int32 step count, and JAX divides int32 by a Python number in
    float32 even with x64 on; given the count as int64 the same formulas run in float64. (In the
    float32 runs the schedule stays float32; elegy's double value rounds to within an ulp of it.)
    """
    import jax.numpy as jnp
    if not jax.config.jax_enable_x64:
        return lambda fn: fn
    return lambda fn: (lambda count: fn(jnp.asarray(count, jnp.int64)))


def configs(optax, jax):
    """name -> (uses the adaptive learning rate, factory(lr) -> optax optimizer, extras).

    The C++ test builds the same optimizers under the same names."""
    ndim_not_1 = lambda p: jax.tree.map(lambda x: x.ndim != 1, p)
    sched = float64_schedule(jax)
    nan = {"nan_steps": [3, 10, 11]}
    look = {"lookahead": True}

    def labels(p):  # leaves in sorted order: "a", "b", then "z" (frozen)
        return {k: "abz"[i] for i, k in enumerate(sorted(p))}

    return {
        # sgd and momentum (trace)
        "sgd": (False, lambda lr: optax.sgd(lr), {}),
        "sgd_momentum": (False, lambda lr: optax.sgd(lr, momentum=0.9), {}),
        "sgd_nesterov": (False, lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True), {}),
        "sgd_exponential_decay": (False, lambda lr: optax.sgd(
            sched(optax.exponential_decay(lr, transition_steps=5, decay_rate=0.5))), {}),
        "sgd_custom_schedule": (False, lambda lr: optax.sgd(
            sched(lambda count: lr / (1.0 + 0.25 * count))), {}),
        "sgd_cosine_onecycle": (False, lambda lr: optax.sgd(
            sched(optax.cosine_onecycle_schedule(50, lr)), momentum=0.5), {}),
        "noisy_sgd_no_noise": (False, lambda lr: optax.noisy_sgd(lr, eta=0.0, key=0), {}),
        # adam and its relatives
        "adam": (True, lambda lr: optax.adam(lr), {}),
        "adam_eps_root": (True, lambda lr: optax.adam(lr, b1=0.8, b2=0.99, eps=1e-6,
                                                      eps_root=1e-4), {}),
        "adam_nesterov": (True, lambda lr: optax.adam(lr, nesterov=True), {}),
        "adam_warmup_cosine": (True, lambda lr: optax.adam(
            sched(optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps=5, decay_steps=20,
                                                     end_value=0.1 * lr))), {}),
        "nadam": (True, lambda lr: optax.nadam(lr), {}),
        "adamw": (True, lambda lr: optax.adamw(lr, weight_decay=0.1), {}),
        "adamw_mask": (True, lambda lr: optax.adamw(lr, weight_decay=0.1, mask=ndim_not_1), {}),
        "adamw_decay_schedule": (True, lambda lr: optax.adamw(
            lr, weight_decay=sched(optax.linear_schedule(0.2, 0.0, transition_steps=20))), {}),
        "nadamw": (True, lambda lr: optax.nadamw(lr, weight_decay=0.1), {}),
        "amsgrad": (True, lambda lr: optax.amsgrad(lr, b2=0.9), {}),
        "adamax": (True, lambda lr: optax.adamax(lr), {}),
        "adamaxw": (True, lambda lr: optax.adamaxw(lr, weight_decay=0.1), {}),
        # (radam's first steps are plain momentum steps: clipped to stay finite on Rosenbrock)
        "radam": (True, lambda lr: optax.chain(optax.clip(1.0), optax.radam(lr)), {}),
        "radam_nesterov": (True, lambda lr: optax.chain(optax.clip(1.0), optax.radam(
            lr, b2=0.99, threshold=4.0, nesterov=True)), {}),
        "adabelief": (True, lambda lr: optax.adabelief(lr), {}),
        "yogi": (True, lambda lr: optax.yogi(lr), {}),
        "lamb": (True, lambda lr: optax.lamb(lr, weight_decay=0.01), {}),
        "lamb_mask_schedule": (True, lambda lr: optax.lamb(
            sched(optax.exponential_decay(lr, 10, 0.5)), weight_decay=0.1, mask=ndim_not_1), {}),
        "novograd": (True, lambda lr: optax.novograd(0.25 * lr, weight_decay=0.01), {}),
        "lion": (True, lambda lr: optax.lion(0.1 * lr, weight_decay=0.01), {}),
        # rmsprop, adagrad, adadelta, sm3, adafactor
        # (rmsprop's rsqrt is XLA's approximation, ~1 ulp from 1 / sqrt: the learning rates are
        # low enough that its oscillation near the optimum does not amplify that past 1e-6)
        "rmsprop": (True, lambda lr: optax.rmsprop(0.2 * lr), {}),
        # (centered: the variance nu - mu^2 is a small difference of large numbers once the
        # gradients change slowly, so an ulp in a gradient (elegy's matmul sums in another order
        # than XLA's dot) becomes a large relative change; a larger eps keeps that out of the
        # step)
        "rmsprop_centered": (True, lambda lr: optax.rmsprop(0.1 * lr, eps=1e-2, centered=True,
                                                            eps_in_sqrt=False), {}),
        "rmsprop_momentum_nesterov": (True, lambda lr: optax.rmsprop(0.1 * lr, momentum=0.9,
                                                                     nesterov=True), {}),
        "rmsprop_debiased": (True, lambda lr: optax.rmsprop(
            0.3 * lr, decay=0.95, eps=1e-6, initial_scale=0.1, eps_in_sqrt=False, centered=True,
            bias_correction=True), {}),
        "adagrad": (True, lambda lr: optax.adagrad(lr), {}),
        "adadelta": (True, lambda lr: optax.adadelta(50 * lr, weight_decay=0.01), {}),
        "sm3": (True, lambda lr: optax.sm3(lr), {}),
        "adafactor": (True, lambda lr: optax.adafactor(lr), {}),
        "adafactor_factored": (True, lambda lr: optax.adafactor(
            lr, min_dim_size_to_factor=2, momentum=0.9, weight_decay_rate=0.01,
            clipping_threshold=0.5), {}),
        # trust ratios: lars, fromage
        "lars": (True, lambda lr: optax.lars(lr, weight_decay=1e-3, trust_coefficient=0.1), {}),
        "lars_nesterov_mask": (True, lambda lr: optax.lars(
            lr, trust_coefficient=0.1, weight_decay=0.01, weight_decay_mask=ndim_not_1,
            momentum=0.5, nesterov=True), {}),
        "fromage": (True, lambda lr: optax.fromage(lr), {}),
        # single transforms, chained with a learning rate
        "clip_adam": (True, lambda lr: optax.chain(optax.clip_by_global_norm(2.0),
                                                   optax.adam(lr)), {}),
        "clip_sgd": (False, lambda lr: optax.chain(optax.clip_by_global_norm(2.0),
                                                   optax.sgd(lr)), {}),
        "clip_elementwise": (True, lambda lr: optax.chain(optax.clip(1.0), optax.sgd(lr)), {}),
        "clip_by_block_rms": (True, lambda lr: optax.chain(optax.clip_by_block_rms(1.0),
                                                           optax.sgd(lr)), {}),
        "ema": (False, lambda lr: optax.chain(optax.ema(0.9),
                                              optax.scale_by_learning_rate(lr)), {}),
        "ema_no_debias": (False, lambda lr: optax.chain(optax.ema(0.8, debias=False),
                                                        optax.scale_by_learning_rate(lr)), {}),
        "centralize": (False, lambda lr: optax.chain(optax.centralize(),
                                                     optax.sgd(lr, momentum=0.5)), {}),
        "sign": (True, lambda lr: optax.chain(optax.scale_by_sign(),
                                              optax.scale_by_learning_rate(0.1 * lr)), {}),
        "trust_ratio": (True, lambda lr: optax.chain(optax.scale_by_trust_ratio(),
                                                     optax.sgd(0.1 * lr)), {}),
        "keep_params_nonnegative": (False, lambda lr: optax.chain(
            optax.sgd(lr), optax.keep_params_nonnegative()), {}),
        "masked_trace": (False, lambda lr: optax.chain(optax.masked(optax.trace(0.9), ndim_not_1),
                                                       optax.scale_by_learning_rate(lr)), {}),
        "zero_nans": (False, lambda lr: optax.chain(optax.zero_nans(), optax.sgd(lr)), nan),
        # wrappers
        "apply_if_finite": (True, lambda lr: optax.apply_if_finite(optax.adam(lr), 2), nan),
        "multi_transform": (True, lambda lr: optax.multi_transform(
            {"a": optax.adam(lr), "b": optax.sgd(0.1 * lr, momentum=0.5),
             "z": optax.set_to_zero()},
            labels), {}),
        "multi_steps": (True, lambda lr: optax.MultiSteps(
            optax.adam(lr), every_k_schedule=3).gradient_transformation(), {}),
        "multi_steps_sum_schedule": (False, lambda lr: optax.MultiSteps(
            optax.sgd(lr, momentum=0.9), every_k_schedule=lambda step: 2 + step % 2,
            use_grad_mean=False).gradient_transformation(), {}),
        "inject_adam_schedule": (True, lambda lr: optax.inject_hyperparams(optax.adam)(
            learning_rate=sched(optax.cosine_decay_schedule(lr, 50, alpha=0.1))), {}),
        "inject_sgd_momentum": (False, lambda lr: optax.inject_hyperparams(optax.sgd)(
            learning_rate=lr, momentum=0.9), {}),
        "lookahead_adam": (True, lambda lr: optax.lookahead(optax.adam(lr), sync_period=5,
                                                            slow_step_size=0.5), look),
        "lookahead_sgd_reset": (False, lambda lr: optax.lookahead(
            optax.sgd(lr, momentum=0.9), sync_period=3, slow_step_size=0.3,
            reset_state=True), look),
    }


def schedules(optax):
    """name -> optax schedule; the C++ test builds the same under the same names."""
    return {
        "constant": optax.constant_schedule(0.3),
        "linear": optax.linear_schedule(1.0, 0.1, transition_steps=10, transition_begin=3),
        "polynomial": optax.polynomial_schedule(1.0, 0.01, power=2, transition_steps=15,
                                                transition_begin=2),
        "exponential": optax.exponential_decay(0.5, transition_steps=4, decay_rate=0.7),
        "exponential_staircase": optax.exponential_decay(0.5, transition_steps=4, decay_rate=0.7,
                                                         transition_begin=3, staircase=True),
        "exponential_end": optax.exponential_decay(0.5, transition_steps=4, decay_rate=0.7,
                                                   end_value=0.2),
        "exponential_growth": optax.exponential_decay(0.1, transition_steps=5, decay_rate=1.5,
                                                      end_value=0.8),
        "cosine": optax.cosine_decay_schedule(1.0, decay_steps=20, alpha=0.1),
        "cosine_exponent": optax.cosine_decay_schedule(2.0, decay_steps=25, exponent=2.0),
        "warmup_cosine": optax.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=5,
                                                            decay_steps=25, end_value=0.05),
        "warmup_constant": optax.warmup_constant_schedule(0.1, 0.5, warmup_steps=8),
        "piecewise_constant": optax.piecewise_constant_schedule(1.0, {5: 0.5, 10: 0.2, 30: 0.0}),
        "join": optax.join_schedules(
            [optax.constant_schedule(1.0), optax.linear_schedule(1.0, 0.0, 10),
             optax.constant_schedule(0.25)], [8, 20]),
        "warmup_exponential": optax.warmup_exponential_decay_schedule(
            0.0, 1.0, warmup_steps=5, transition_steps=4, decay_rate=0.7, transition_begin=2,
            staircase=True, end_value=0.1),
        "piecewise_linear": optax.piecewise_interpolate_schedule(
            "linear", 1.0, {5: 0.5, 10: 2.0, 30: 0.1}),
        "piecewise_cosine": optax.piecewise_interpolate_schedule("cosine", 1.0, {4: 3.0, 20: 0.1}),
        "linear_onecycle": optax.linear_onecycle_schedule(30, 1.0),
        "cosine_onecycle": optax.cosine_onecycle_schedule(30, 1.0, pct_start=0.25),
        "sgdr": optax.sgdr_schedule([
            dict(init_value=0.0, peak_value=1.0, warmup_steps=3, decay_steps=10, end_value=0.1),
            dict(init_value=0.1, peak_value=0.5, warmup_steps=2, decay_steps=15, end_value=0.0)]),
    }


def gradients(jnp, name, p, k):
    """The gradient of each problem's loss, op for op as the C++ test writes it."""
    if name == "parabola":  # 0.5 * sum(a * (p - c)^2) per leaf
        return {"u": k["a_u"] * (p["u"] - k["c_u"]), "v": k["a_v"] * (p["v"] - k["c_v"])}
    if name == "rosenbrock":  # sum((1 - x)^2 + 100 (y - x^2)^2)
        x, y = p["x"], p["y"]
        r = y - x * x
        return {"x": (1.0 - x) * -2.0 - (x * 400.0) * r, "y": r * 200.0}
    # mlp: 0.5 * mean over the batch of |(x w1 + b1) w2 - t|^2
    h = jnp.matmul(k["x"], p["w1"]) + p["b1"]
    y = jnp.matmul(h, p["w2"])
    d = (y - k["t"]) * (1.0 / 5.0)
    dh = jnp.matmul(d, p["w2"].T)
    return {"b1": jnp.sum(dh, axis=0), "w1": jnp.matmul(k["x"].T, dh),
            "w2": jnp.matmul(h.T, d)}


def run(dtype_name):
    """Runs every configuration in one dtype; prints JSON."""
    import jax
    if dtype_name == "float64":
        jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platform_name", "cpu")
    import jax.numpy as jnp
    import numpy as np
    import optax

    dtype = jnp.float32 if dtype_name == "float32" else jnp.float64
    const_shapes = {"a_u": [5], "c_u": [5], "a_v": [2, 3], "c_v": [2, 3], "x": [5, 3], "t": [5, 2]}
    out = {"runs": [], "schedules": {}}
    bad = []  # runs that diverged: a configuration to fix
    for pname, prob in PROBLEMS.items():
        k = {n: jnp.asarray(np.array(v, np.float64).reshape(const_shapes[n]), dtype)
             for n, v in prob["constants"].items()}
        for cname, (adaptive, factory, extras) in configs(optax, jax).items():
            lr = prob["lr_adaptive"] if adaptive else prob["lr_sgd"]
            opt = factory(lr)
            params = {n: jnp.asarray(np.array(prob["init"][n], np.float64).reshape(s), dtype)
                      for n, s in prob["shapes"].items()}
            if extras.get("lookahead"):
                params = optax.LookaheadParams.init_synced(params)
            state = opt.init(params)
            steps = []
            for step in range(STEPS):
                fast = params.fast if extras.get("lookahead") else params
                g = gradients(jnp, pname, fast, k)
                if step in extras.get("nan_steps", []):
                    first = sorted(g)[0]
                    g[first] = g[first] * jnp.nan
                updates, state = opt.update(g, state, params)
                params = optax.apply_updates(params, updates)
                if step + 1 not in RECORDED_STEPS:
                    continue
                flat = []
                for leaf in jax.tree.leaves(params):  # fast then slow; keys sorted
                    assert leaf.dtype == dtype, (cname, leaf.dtype)
                    flat += [float(v) for v in np.asarray(leaf).ravel()]
                if not all(np.isfinite(flat)):
                    bad.append(f"{cname} on {pname}")
                    break
                steps.append(flat)
            out["runs"].append({"config": cname, "problem": pname, "steps": steps})
    if dtype_name == "float64":
        for sname, fn in schedules(optax).items():
            out["schedules"][sname] = [float(fn(jnp.asarray(i, jnp.int64)))
                                       for i in range(SCHEDULE_STEPS + 1)]
    if bad:
        sys.exit("non-finite params in " + ", ".join(bad))
    out["versions"] = {"jax": jax.__version__, "optax": optax.__version__}
    json.dump(out, sys.stdout)


def fmt(values, digits=None):
    """9 significant digits round-trip float32; repr is the shortest exact float64 text."""
    return ", ".join(repr(v) if digits is None else f"{v:.{digits}g}" for v in values)


def wrap(text, width=98, indent="    "):
    lines, line = [], indent
    for item in text.split(", "):
        piece = item + ","
        if len(line) + len(piece) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += piece + " "
    lines.append(line.rstrip())
    return "\n".join(lines)


def main():
    results = {}
    for dtype_name in ("float32", "float64"):
        text = subprocess.run([sys.executable, os.path.abspath(__file__), "--run", dtype_name],
                              check=True, capture_output=True, text=True).stdout
        results[dtype_name] = json.loads(text)
    versions = results["float64"]["versions"]

    o = []
    o.append("// Generated by tests/reference/gen_optax.py from optax "
             f"{versions['optax']} and jax {versions['jax']} (CPU).")
    o.append("// Do not edit: rerun the script.")
    o.append("//")
    o.append(f"// Parameter trajectories of optax optimizers: {STEPS} steps per (configuration, "
             "problem, dtype), the params")
    o.append("// after each of kRecordedSteps written out (all parameters flattened in leaf order:")
    o.append("// sorted keys, lookahead's fast before slow); float32 values with 9")
    o.append("// significant digits, float64 values in their shortest exact form: both exact. Problem")
    o.append("// constants and initial parameters as Python wrote them (rounded to the dtype by the test).")
    o.append("#pragma once\n")
    o.append("#include <cstdint>\n")
    o.append("namespace optax_reference {\n")
    o.append(f"inline constexpr int kSteps = {STEPS};")
    o.append(f"inline constexpr int kRecordedSteps[] = {{{', '.join(map(str, RECORDED_STEPS))}}};")
    o.append(f"inline constexpr int kScheduleSteps = {SCHEDULE_STEPS};\n")
    o.append("struct Values {\n  const char* name;\n  const double* data;\n  int size;\n};\n")

    # problems
    o.append("struct Problem {\n  const char* name;\n  double lr_sgd;\n  double lr_adaptive;\n"
             "  const Values* init;  // one per leaf, sorted by name\n  int num_leaves;\n"
             "  const Values* constants;\n  int num_constants;\n};\n")
    for pname, prob in PROBLEMS.items():
        for kind in ("init", "constants"):
            items = prob[kind]
            for n, v in items.items():
                o.append(f"inline constexpr double k_{pname}_{kind}_{n}[] = {{\n"
                         f"{wrap(fmt(v))}\n}};")
            entries = ", ".join(f'{{"{n}", k_{pname}_{kind}_{n}, {len(v)}}}'
                                for n, v in sorted(items.items()))
            o.append(f"inline constexpr Values k_{pname}_{kind}[] = {{\n{wrap(entries)}\n}};"
                     if items else f"inline constexpr const Values* k_{pname}_{kind} = nullptr;")
    o.append("inline constexpr Problem kProblems[] = {")
    for pname, prob in PROBLEMS.items():
        o.append(f'    {{"{pname}", {prob["lr_sgd"]!r}, {prob["lr_adaptive"]!r}, k_{pname}_init, '
                 f'{len(prob["init"])}, k_{pname}_constants, {len(prob["constants"])}}},')
    o.append("};\n")

    # trajectories
    o.append("struct Run {\n  const char* config;\n  const char* problem;\n  const char* dtype;\n"
             "  const double* steps;  // one row of numel values per kRecordedSteps entry\n"
             "  int numel;\n};\n")
    table = []
    for dtype_name, digits in (("float32", 9), ("float64", None)):
        for i, r in enumerate(results[dtype_name]["runs"]):
            ident = f"k_{dtype_name}_{r['config']}_{r['problem']}"
            flat = [v for step in r["steps"] for v in step]
            o.append(f"inline constexpr double {ident}[] = {{\n{wrap(fmt(flat, digits))}\n}};")
            table.append(f'    {{"{r["config"]}", "{r["problem"]}", "{dtype_name}", {ident}, '
                         f'{len(r["steps"][0])}}},')
    o.append("inline constexpr Run kRuns[] = {")
    o += table
    o.append("};\n")

    # schedules
    o.append(f"// optax schedules at steps 0..{SCHEDULE_STEPS}, float64.")
    entries = []
    for sname, vals in results["float64"]["schedules"].items():
        o.append(f"inline constexpr double k_schedule_{sname}[] = {{\n{wrap(fmt(vals))}\n}};")
        entries.append(f'{{"{sname}", k_schedule_{sname}, {len(vals)}}}')
    o.append("inline constexpr Values kSchedules[] = {\n    " + ",\n    ".join(entries) + "};\n")
    o.append("}  // namespace optax_reference")
    with open(OUT, "w") as f:
        f.write("\n".join(o) + "\n")
    n = sum(len(results[d]["runs"]) for d in results)
    print(f"wrote {os.path.normpath(OUT)}: {n} runs, {len(results['float64']['schedules'])} "
          f"schedules (optax {versions['optax']}, jax {versions['jax']})")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--run":
        run(sys.argv[2])
    else:
        main()
