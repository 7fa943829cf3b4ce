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
  const Tensor w1 = p["w1"], w2 = p["w2"], b1 = p["b1"], x = k["x"], t = k["t"];
  const Tensor h = matmul(x, w1) + b1;
  const Tensor y = matmul(h, w2);
  const Tensor d = (y - t) * (1.0 / 5.0);
  const Tensor dh = matmul(d, transpose(w2));
  return Tree{
      {"b1", sum(dh, 0)}, {"w1", matmul(transpose(x), dh)}, {"w2", matmul(transpose(h), d)}};
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
  if (name == "rmsprop") return rmsprop(lr);
  if (name == "rmsprop_centered") return rmsprop(lr, {.centered = true});
  if (name == "rmsprop_momentum_nesterov") return rmsprop(lr, {.momentum = 0.9, .nesterov = true});
  if (name == "rmsprop_debiased")
    return rmsprop(lr, {.decay = 0.95,
                        .eps = 1e-6,
                        .initial_scale = 0.1,
                        .eps_in_sqrt = false,
                        .centered = true,
                        .bias_correction = true});
  if (name == "clip_adam") return chain({clip_by_global_norm(2.0), adam(lr)});
  if (name == "clip_sgd") return chain({clip_by_global_norm(2.0), sgd(sgd_lr)});
  throw std::invalid_argument("no optimizer configuration " + std::string(name));
}

// How far `got` is from `want`, in units of the tolerance: |got - want| / (rtol * max(|want|,
// floor)), so values near zero are compared absolutely at rtol * floor.
inline double tolerance_units(double got, double want, double rtol, double floor) {
  return std::abs(got - want) / (rtol * std::max(std::abs(want), floor));
}

}  // namespace elegy::optax_test
