// Adafactor's pieces: scale_by_factored_rms (optax/_src/factorized.py) and
// scale_by_param_block_rms.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <utility>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

namespace {

constexpr const char* kOp = "scale_by_factored_rms";

// (d1, d0): the axes of the second-largest and the largest dimension, when the leaf is factored
// (rank >= 2 and the second-largest dimension >= min_dim). Ties keep axis order, as numpy's
// argsort does on small arrays.
std::optional<std::pair<int, int>> factored_dims(const Shape& shape, bool factored,
                                                 std::int64_t min_dim) {
  if (!factored || shape.size() < 2) return std::nullopt;
  std::vector<int> order(shape.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return shape[a] < shape[b]; });
  const int d1 = order[order.size() - 2], d0 = order.back();
  if (shape[d1] < min_dim) return std::nullopt;
  return std::pair{d1, d0};
}

// jnp.mean: the sum divided by the count (elegy's mean multiplies by its reciprocal).
Tensor jax_mean(const Tensor& x, const Axes& axes = {}, bool keepdims = false) {
  const Tensor s = sum(x, axes, keepdims);
  return s / double(x.numel() / std::max<std::int64_t>(s.numel(), 1));
}

// The leaf's shape without `axis`.
Shape without_axis(const Shape& shape, int axis) {
  std::vector<std::int64_t> dims;
  for (int i = 0; i < int(shape.size()); ++i)
    if (i != axis) dims.push_back(shape[i]);
  return Shape(dims);
}

}  // namespace

GradientTransformation scale_by_factored_rms(ScaleByFactoredRmsOptions o) {
  detail::check_finite_nonnegative(kOp, "decay_rate", o.decay_rate);
  detail::check_finite_nonnegative(kOp, "epsilon", o.epsilon);
  return {[o](const Tree& params) {
            Tree v_row = params.map([&](const Tensor& p) {
              const auto dims = factored_dims(p.shape(), o.factored, o.min_dim_size_to_factor);
              return dims ? zeros(without_axis(p.shape(), dims->second), p.dtype(), p.device())
                          : zeros(Shape{1}, p.dtype(), p.device());
            });
            Tree v_col = params.map([&](const Tensor& p) {
              const auto dims = factored_dims(p.shape(), o.factored, o.min_dim_size_to_factor);
              return dims ? zeros(without_axis(p.shape(), dims->first), p.dtype(), p.device())
                          : zeros(Shape{1}, p.dtype(), p.device());
            });
            Tree v = params.map([&](const Tensor& p) {
              const auto dims = factored_dims(p.shape(), o.factored, o.min_dim_size_to_factor);
              return dims ? zeros(Shape{1}, p.dtype(), p.device()) : zeros_like(p);
            });
            return Tree{{"count", detail::make_count(0)},
                        {"v", std::move(v)},
                        {"v_col", std::move(v_col)},
                        {"v_row", std::move(v_row)}};
          },
          [o](const Tree& updates, const OptState& state, const Tree& params) {
            detail::check_state_keys(kOp, state, {"count", "v", "v_col", "v_row"});
            for (const char* field : {"v", "v_col", "v_row"}) {
              const std::string d = Tree::structure_difference(updates, state[field]);
              ELEGY_CHECK(d.empty(), kOp,
                          "the updates do not have the structure of the params the state's '",
                          field, "' was initialised for: ", d,
                          " (updates vs state); call init with params of this structure first");
            }
            detail::check_params(kOp, updates, params);
            const std::int32_t step = detail::read_count(kOp, state);
            // 1 - (step + 1)^-decay_rate in float32 (optax builds the step as a float32 array).
            const float t = float(step - o.step_offset + 1);
            const float decay_t = 1.0f - float(std::pow(double(t), double(float(-o.decay_rate))));
            const double dr = decay_t, one_minus = double(1.0f - decay_t);
            autodiff::NoGrad no_grad;
            const auto g = updates.leaves(), vr = state["v_row"].leaves(),
                       vc = state["v_col"].leaves(), vf = state["v"].leaves(), p = params.leaves();
            std::vector<Tensor> out(g.size()), new_vr(g.size()), new_vc(g.size()), new_v(g.size());
            for (std::size_t i = 0; i < g.size(); ++i) {
              const DType dtype = p[i].dtype();
              const Device device = p[i].device();
              const auto dims = factored_dims(p[i].shape(), o.factored, o.min_dim_size_to_factor);
              const Tensor grad_sqr = g[i] * g[i] + o.epsilon;
              const Tensor dummy = zeros(Shape{1}, dtype, device);
              if (dims) {
                const auto [d1, d0] = *dims;
                ELEGY_CHECK(vr[i].shape() == without_axis(g[i].shape(), d0) &&
                                vc[i].shape() == without_axis(g[i].shape(), d1),
                            kOp, "the state's factored moments do not fit the update ",
                            describe(g[i]), "; call init with params of these shapes first");
                const Tensor row = (vr[i] * dr + jax_mean(grad_sqr, d0) * one_minus).astype(dtype);
                const Tensor col = (vc[i] * dr + jax_mean(grad_sqr, d1) * one_minus).astype(dtype);
                const int reduced_d1 = d1 > d0 ? d1 - 1 : d1;
                const Tensor row_col_mean = jax_mean(row, reduced_d1, /*keepdims=*/true);
                const Tensor row_factor = pow(row / row_col_mean, -0.5);
                const Tensor col_factor = pow(col, -0.5);
                out[i] = (g[i] * expand_dims(row_factor, d0)) * expand_dims(col_factor, d1);
                new_vr[i] = row;
                new_vc[i] = col;
                new_v[i] = dummy;
              } else {
                ELEGY_CHECK(vf[i].shape() == g[i].shape(), kOp, "the state's 'v' holds ",
                            describe(vf[i]), " for the update ", describe(g[i]),
                            "; call init with params of these shapes first");
                const Tensor v = (vf[i] * dr + grad_sqr * one_minus).astype(dtype);
                out[i] = g[i] * pow(v, -0.5);
                new_vr[i] = dummy;
                new_vc[i] = dummy;
                new_v[i] = v;
              }
            }
            return UpdateResult{updates.unflatten(out),
                                Tree{{"count", detail::make_count(detail::safe_increment(step))},
                                     {"v", updates.unflatten(new_v)},
                                     {"v_col", updates.unflatten(new_vc)},
                                     {"v_row", updates.unflatten(new_vr)}}};
          }};
}

GradientTransformation scale_by_param_block_rms(double min_scale) {
  constexpr const char* op = "scale_by_param_block_rms";
  detail::check_finite_nonnegative(op, "min_scale", min_scale);
  return {[](const Tree&) { return Tree(); },
          [min_scale](const Tree& updates, const OptState& state, const Tree& params) {
            detail::check_empty_state(op, state);
            detail::check_params(op, updates, params);
            autodiff::NoGrad no_grad;
            Tree out = detail::zip_map({&updates, &params}, [&](std::span<const Tensor> x) {
              const Tensor rms = sqrt(jax_mean(x[1] * x[1]));
              return x[0] * where(rms <= min_scale, min_scale, rms);
            });
            return UpdateResult{std::move(out), state};
          }};
}

}  // namespace elegy::optim
