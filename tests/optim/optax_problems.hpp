// The fixed problems and optimizer configurations of tests/reference/gen_optax.py, built with
// elegy: the params and constants from optax_reference_data.hpp, the gradients written op for op
// as the script writes them, and each named configuration as the same elegy optimizer.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_linalg.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/tree.hpp"
#include "elegy/optim/aliases.hpp"
#include "elegy/optim/schedules.hpp"
#include "elegy/optim/transforms.hpp"
#include "elegy/optim/wrappers.hpp"
#include "optim/optax_reference_data.hpp"

namespace elegy::optax_test {

inline Shape shape_of(std::string_view problem, std::string_view name) {
  if (problem == "parabola")
    return name == "u" || name == "a_u" || name == "c_u" ? Shape{5} : Shape{2, 3};
  if (problem == "rosenbrock") return Shape{3};
  if (name == "b1") return Shape{4};
  if (name == "w1") return Shape{3, 4};
  if (name == "w2") return Shape{4, 2};
  if (name == "x") return Shape{5, 3};
  return Shape{5, 2};  // t
}

inline const optax_reference::Problem& problem(std::string_view name) {
  for (const auto& p : optax_reference::kProblems)
    if (name == p.name) return p;
  throw std::invalid_argument("no problem " + std::string(name));
}

inline Tensor tensor_of(std::string_view problem, const optax_reference::Values& v, DType dtype,
                        Device device = Device::cpu()) {
  std::vector<double> data(v.data, v.data + v.size);
  return Tensor::from_vector(data, shape_of(problem, v.name)).astype(dtype).to(device);
}

// The initial params (one map entry per leaf) and the constants.
inline Tree initial_params(const optax_reference::Problem& p, DType dtype,
                           Device device = Device::cpu()) {
  Tree params;
  for (int i = 0; i < p.num_leaves; ++i)
    params[p.init[i].name] = tensor_of(p.name, p.init[i], dtype, device);
  return params;
}
inline Tree constants(const optax_reference::Problem& p, DType dtype,
                      Device device = Device::cpu()) {
  Tree k;
  for (int i = 0; i < p.num_constants; ++i)
    k[p.constants[i].name] = tensor_of(p.name, p.constants[i], dtype, device);
  return k;
}

// The loss gradients, op for op as gen_optax.py's gradients().
inline Tree gradients(std::string_view problem, const Tree& p, const Tree& k) {
  if (problem == "parabola")
    return Tree{{"u", k["a_u"].tensor() * (p["u"].tensor() - k["c_u"].tensor())},
                {"v", k["a_v"].tensor() * (p["v"].tensor() - k["c_v"].tensor())}};
  if (problem == "rosenbrock") {
    const Tensor x = p["x"], y = p["y"];
    const Tensor r = y - x * x;
    return Tree{{"x", (1.0 - x) * -2.0 - (x * 400.0) * r}, {"y", r * 200.0}};
  }
  // In float64, then rounded to the params' dtype: the float32 gradients are then the correctly
  // rounded ones on every machine. Float32 matmuls sum in an order that depends on the BLAS
  // kernel the CPU gets, and the trajectories amplify the difference: on an H200 host (Sapphire
  // Rapids-class Xeon, OpenBLAS picking other kernels) rmsprop_centered drifted to 1.55x the
  // tolerance that this machine's kernels met at 0.94x.
  const DType dtype = p["w1"].tensor().dtype();
  auto f64 = [](const Tensor& t) { return t.astype(DType::f64); };
  const Tensor w1 = f64(p["w1"]), w2 = f64(p["w2"]), b1 = f64(p["b1"]), x = f64(k["x"]),
               t = f64(k["t"]);
  const Tensor h = matmul(x, w1) + b1;
  const Tensor y = matmul(h, w2);
  const Tensor d = (y - t) * (1.0 / 5.0);
  const Tensor dh = matmul(d, transpose(w2));
  return Tree{{"b1", sum(dh, 0).astype(dtype)},
              {"w1", matmul(transpose(x), dh).astype(dtype)},
              {"w2", matmul(transpose(h), d).astype(dtype)}};
}

// Leaves with ndim != 1 (gen_optax.py's mask for adamw_mask), as a mask function.
inline Tree not_vectors(const Tree& params) {
  return params.map([](const Tensor& x) {
    return Tensor::from_vector(std::vector<std::uint8_t>{x.ndim() != 1}, Shape{});
  });
}

// The configuration `name` of gen_optax.py's configs(), built with elegy.
inline optim::GradientTransformation make_optimizer(std::string_view name,
                                                    const optax_reference::Problem& p) {
  using namespace optim;
  const double sgd_lr = p.lr_sgd, lr = p.lr_adaptive;
  if (name == "sgd") return sgd(sgd_lr);
  if (name == "sgd_momentum") return sgd(sgd_lr, {.momentum = 0.9});
  if (name == "sgd_nesterov") return sgd(sgd_lr, {.momentum = 0.9, .nesterov = true});
  if (name == "sgd_exponential_decay") return sgd(exponential_decay(sgd_lr, 5, 0.5));
  if (name == "sgd_custom_schedule")
    return sgd([sgd_lr](std::int64_t count) { return sgd_lr / (1.0 + 0.25 * double(count)); });
  if (name == "adam") return adam(lr);
  if (name == "adam_eps_root")
    return adam(lr, {.b1 = 0.8, .b2 = 0.99, .eps = 1e-6, .eps_root = 1e-4});
  if (name == "adam_nesterov") return adam(lr, {.nesterov = true});
  if (name == "adam_warmup_cosine")
    return adam(warmup_cosine_decay_schedule(0.0, lr, 5, 20, {.end_value = 0.1 * lr}));
  if (name == "adamw") return adamw(lr, {.weight_decay = 0.1});
  if (name == "adamw_mask") return adamw(lr, {.weight_decay = 0.1, .mask = MaskFn(not_vectors)});
  if (name == "adamw_decay_schedule")
    return adamw(lr, {.weight_decay = linear_schedule(0.2, 0.0, 20)});
  if (name == "rmsprop") return rmsprop(0.2 * lr);
  if (name == "rmsprop_centered")
    return rmsprop(0.1 * lr, {.eps = 1e-2, .eps_in_sqrt = false, .centered = true});
  if (name == "rmsprop_momentum_nesterov")
    return rmsprop(0.1 * lr, {.momentum = 0.9, .nesterov = true});
  if (name == "rmsprop_debiased")
    return rmsprop(0.3 * lr, {.decay = 0.95,
                              .eps = 1e-6,
                              .initial_scale = 0.1,
                              .eps_in_sqrt = false,
                              .centered = true,
                              .bias_correction = true});
  if (name == "clip_adam") return chain({clip_by_global_norm(2.0), adam(lr)});
  if (name == "clip_sgd") return chain({clip_by_global_norm(2.0), sgd(sgd_lr)});
  if (name == "sgd_cosine_onecycle")
    return sgd(cosine_onecycle_schedule(50, sgd_lr), {.momentum = 0.5});
  if (name == "noisy_sgd_no_noise") return noisy_sgd(sgd_lr, {.eta = 0.0});
  if (name == "nadam") return nadam(lr);
  if (name == "nadamw") return nadamw(lr, {.weight_decay = 0.1});
  if (name == "amsgrad") return amsgrad(lr, {.b2 = 0.9});
  if (name == "adamax") return adamax(lr);
  if (name == "adamaxw") return adamaxw(lr, {.weight_decay = 0.1});
  if (name == "radam") return chain({clip(1.0), radam(lr)});
  if (name == "radam_nesterov")
    return chain({clip(1.0), radam(lr, {.b2 = 0.99, .threshold = 4.0, .nesterov = true})});
  if (name == "adabelief") return adabelief(lr);
  if (name == "yogi") return yogi(lr);
  if (name == "lamb") return lamb(lr, {.weight_decay = 0.01});
  if (name == "lamb_mask_schedule")
    return lamb(exponential_decay(lr, 10, 0.5), {.weight_decay = 0.1, .mask = MaskFn(not_vectors)});
  if (name == "novograd") return novograd(0.25 * lr, {.weight_decay = 0.01});
  if (name == "lion") return lion(0.1 * lr, {.weight_decay = 0.01});
  if (name == "adagrad") return adagrad(lr);
  if (name == "adadelta") return adadelta(50 * lr, {.weight_decay = 0.01});
  if (name == "sm3") return sm3(lr);
  if (name == "adafactor") return adafactor(lr);
  if (name == "adafactor_factored")
    return adafactor(lr, {.min_dim_size_to_factor = 2,
                          .clipping_threshold = 0.5,
                          .momentum = 0.9,
                          .weight_decay_rate = 0.01});
  if (name == "lars") return lars(lr, {.weight_decay = 1e-3, .trust_coefficient = 0.1});
  if (name == "lars_nesterov_mask")
    return lars(lr, {.weight_decay = 0.01,
                     .weight_decay_mask = MaskFn(not_vectors),
                     .trust_coefficient = 0.1,
                     .momentum = 0.5,
                     .nesterov = true});
  if (name == "fromage") return fromage(lr);
  if (name == "clip_elementwise") return chain({clip(1.0), sgd(lr)});
  if (name == "clip_by_block_rms") return chain({clip_by_block_rms(1.0), sgd(lr)});
  if (name == "ema") return chain({ema(0.9), scale_by_learning_rate(sgd_lr)});
  if (name == "ema_no_debias")
    return chain({ema(0.8, {.debias = false}), scale_by_learning_rate(sgd_lr)});
  if (name == "centralize") return chain({centralize(), sgd(sgd_lr, {.momentum = 0.5})});
  if (name == "sign") return chain({scale_by_sign(), scale_by_learning_rate(0.1 * lr)});
  if (name == "trust_ratio") return chain({scale_by_trust_ratio(), sgd(0.1 * lr)});
  if (name == "keep_params_nonnegative") return chain({sgd(sgd_lr), keep_params_nonnegative()});
  if (name == "masked_trace")
    return chain({masked(trace(0.9), MaskFn(not_vectors)), scale_by_learning_rate(sgd_lr)});
  if (name == "zero_nans") return chain({zero_nans(), sgd(sgd_lr)});
  if (name == "apply_if_finite") return apply_if_finite(adam(lr), 2);
  if (name == "multi_transform")
    return multi_transform(
        {{"a", adam(lr)}, {"b", sgd(0.1 * lr, {.momentum = 0.5})}, {"z", set_to_zero()}},
        LabelMap{
            {"u", "a"}, {"v", "b"}, {"x", "a"}, {"y", "b"}, {"b1", "a"}, {"w1", "b"}, {"w2", "z"}});
  if (name == "multi_steps") return MultiSteps(adam(lr), 3).gradient_transformation();
  if (name == "multi_steps_sum_schedule")
    return MultiSteps(sgd(sgd_lr, {.momentum = 0.9}),
                      [](std::int64_t step) { return int(2 + step % 2); }, {.use_grad_mean = false})
        .gradient_transformation();
  if (name == "inject_adam_schedule")
    return inject_hyperparams(
        [](const Hyperparams& h) {
          return adam(h.at("learning_rate"), {.b1 = h.at("b1"),
                                              .b2 = h.at("b2"),
                                              .eps = h.at("eps"),
                                              .eps_root = h.at("eps_root")});
        },
        {{"learning_rate", cosine_decay_schedule(lr, 50, {.alpha = 0.1})},
         {"b1", 0.9},
         {"b2", 0.999},
         {"eps", 1e-8},
         {"eps_root", 0.0}});
  if (name == "inject_sgd_momentum")
    return inject_hyperparams(
        [](const Hyperparams& h) {
          return sgd(h.at("learning_rate"), {.momentum = h.at("momentum")});
        },
        {{"learning_rate", sgd_lr}, {"momentum", 0.9}});
  if (name == "lookahead_adam") return lookahead(adam(lr), 5, 0.5);
  if (name == "lookahead_sgd_reset")
    return lookahead(sgd(sgd_lr, {.momentum = 0.9}), 3, 0.3, {.reset_state = true});
  throw std::invalid_argument("no optimizer configuration " + std::string(name));
}

// gen_optax.py's extras: the configurations whose params are lookahead's {fast, slow}, and the
// 0-based steps at which the first leaf's gradient is multiplied by NaN.
inline bool uses_lookahead(std::string_view name) {
  return name.starts_with("lookahead");
}
inline bool nan_step(std::string_view name, int step) {
  const bool injects = name == "zero_nans" || name == "apply_if_finite";
  return injects && (step == 3 || step == 10 || step == 11);
}

// How far `got` is from `want`, in units of the tolerance: |got - want| / (rtol * max(|want|,
// floor)), so values near zero are compared absolutely at rtol * floor.
inline double tolerance_units(double got, double want, double rtol, double floor) {
  return std::abs(got - want) / (rtol * std::max(std::abs(want), floor));
}

}  // namespace elegy::optax_test
