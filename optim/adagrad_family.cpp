// Accumulating rescalings: scale_by_rss (AdaGrad), scale_by_adadelta and scale_by_sm3
// (optax/_src/transform.py).
#include <algorithm>
#include <string>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

namespace {

// where(t > 0, 1 / sqrt(t + eps), 0): optax's rsqrt guarded against empty accumulators.
Tensor guarded_inverse_sqrt(const Tensor& t, double eps) {
  return where(t > 0.0, 1.0 / sqrt(t + eps), 0.0);
}

}  // namespace

GradientTransformation scale_by_rss(ScaleByRssOptions o) {
  constexpr const char* op = "scale_by_rss";
  detail::check_finite_nonnegative(op, "initial_accumulator_value", o.initial_accumulator_value);
  detail::check_finite_nonnegative(op, "eps", o.eps);
  return {
      [o](const Tree& params) {
        return Tree{
            {"sum_of_squares", detail::full_like_tree(params, o.initial_accumulator_value)}};
      },
      [o](const Tree& updates, const OptState& state, const Tree&) {
        detail::check_state_keys(op, state, {"sum_of_squares"});
        const Tree& old = state["sum_of_squares"];
        detail::check_matches_updates(op, "sum_of_squares", updates, old);
        autodiff::NoGrad no_grad;
        const Tree sos = detail::zip_map(
            {&updates, &old}, [](std::span<const Tensor> x) { return x[0] * x[0] + x[1]; });
        Tree out = detail::zip_map({&sos, &updates}, [&](std::span<const Tensor> x) {
          return guarded_inverse_sqrt(x[0], o.eps) * x[1];
        });
        return UpdateResult{std::move(out), Tree{{"sum_of_squares", detail::cast_like(sos, old)}}};
      }};
}

GradientTransformation scale_by_adadelta(ScaleByAdadeltaOptions o) {
  constexpr const char* op = "scale_by_adadelta";
  detail::check_range(op, "rho", o.rho, 0.0, 1.0);
  detail::check_finite_nonnegative(op, "eps", o.eps);
  return {[](const Tree& params) {
            return Tree{{"e_g", detail::full_like_tree(params, 0.0)},
                        {"e_x", detail::full_like_tree(params, 0.0)}};
          },
          [o](const Tree& updates, const OptState& state, const Tree&) {
            detail::check_state_keys(op, state, {"e_g", "e_x"});
            const Tree& old_e_g = state["e_g"];
            const Tree& old_e_x = state["e_x"];
            detail::check_matches_updates(op, "e_g", updates, old_e_g);
            detail::check_matches_updates(op, "e_x", updates, old_e_x);
            autodiff::NoGrad no_grad;
            const Tree e_g = detail::update_moment(updates, old_e_g, o.rho, 2);
            Tree out = detail::zip_map({&updates, &e_g, &old_e_x}, [&](std::span<const Tensor> x) {
              return (sqrt(x[2] + o.eps) / sqrt(x[1] + o.eps)) * x[0];
            });
            const Tree e_x = detail::update_moment(out, old_e_x, o.rho, 2);
            return UpdateResult{std::move(out), Tree{{"e_g", detail::cast_like(e_g, old_e_g)},
                                                     {"e_x", detail::cast_like(e_x, old_e_x)}}};
          }};
}

namespace {

constexpr const char* kSm3 = "scale_by_sm3";

// Shape [1, ..., n_axis, ..., 1] of rank `rank`.
Shape expanded_shape(const Shape& shape, int axis) {
  std::vector<std::int64_t> dims(shape.size(), 1);
  dims[axis] = shape[axis];
  return Shape(dims);
}

// One accumulator per axis of `p`: zeros of shape [p.shape[i]].
Tree zeros_for_dims(const Tensor& p) {
  ELEGY_CHECK(p.ndim() >= 1, kSm3, "needs leaves of rank >= 1, got ", describe(p));
  Tree::List out;
  for (int i = 0; i < p.ndim(); ++i)
    out.emplace_back(zeros(Shape{p.shape()[i]}, p.dtype(), p.device()));
  return Tree::from_list(std::move(out));
}

// Rebuilds `a` (leaves: tensors) with each leaf replaced by fn(leaf, the subtree of `b` at the
// same place); Error naming the path where b's structure stops matching.
template <class Fn>
Tree map_to_subtrees(const Tree& a, const Tree& b, const Fn& fn, const std::string& path = "") {
  if (a.is_leaf()) return fn(a.tensor(), b, path);
  const auto mismatch = [&] {
    fail(kSm3, "the state's 'mu' does not have the structure of the updates at '", path,
         "'; call init with params of this structure first");
  };
  if (a.is_none()) {
    if (!b.is_none()) mismatch();
    return Tree();
  }
  if (a.is_map()) {
    if (!b.is_map() || a.size() != b.size()) mismatch();
    Tree::Map out;
    for (const auto& [k, sub] : a.items()) {
      if (!b.items().contains(k)) mismatch();
      out.emplace(k, map_to_subtrees(sub, b.items().find(k)->second, fn,
                                     path.empty() ? k : path + "/" + k));
    }
    return Tree::from_map(std::move(out));
  }
  if (!b.is_list() || a.size() != b.size()) mismatch();
  Tree::List out;
  for (std::size_t i = 0; i < a.size(); ++i)
    out.push_back(
        map_to_subtrees(a.elements()[i], b.elements()[i], fn,
                        path.empty() ? std::to_string(i) : path + "/" + std::to_string(i)));
  return Tree::from_list(std::move(out));
}

}  // namespace

GradientTransformation scale_by_sm3(ScaleBySm3Options o) {
  detail::check_range(kSm3, "b1", o.b1, 0.0, 1.0);
  detail::check_range(kSm3, "b2", o.b2, 0.0, 1.0);
  detail::check_finite_nonnegative(kSm3, "eps", o.eps);
  return {
      [](const Tree& params) {
        return Tree{{"mu", map_to_subtrees(params, params,
                                           [](const Tensor& p, const Tree&, const std::string&) {
                                             return zeros_for_dims(p);
                                           })},
                    {"nu", detail::full_like_tree(params, 0.0)}};
      },
      [o](const Tree& updates, const OptState& state, const Tree&) {
        detail::check_state_keys(kSm3, state, {"mu", "nu"});
        const Tree& old_nu = state["nu"];
        detail::check_matches_updates(kSm3, "nu", updates, old_nu);
        autodiff::NoGrad no_grad;
        const double c0 = o.b2 != 1.0 ? 1.0 - o.b2 : 1.0, c1 = o.b2;
        // accum = c0 g^2 + c1 min_i(mu_i broadcast along axis i), one leaf at a time.
        std::vector<Tensor> accums;
        map_to_subtrees(
            updates, state["mu"], [&](const Tensor& g, const Tree& mu, const std::string& path) {
              ELEGY_CHECK(mu.is_list() && int(mu.size()) == g.ndim() && g.ndim() >= 1, kSm3,
                          "the state's 'mu' at '", path, "' is not one accumulator per axis of ",
                          describe(g), "; call init first");
              Tensor cover;
              for (int i = 0; i < g.ndim(); ++i) {
                const Tensor m = mu.elements()[i].tensor();
                ELEGY_CHECK(m.numel() == g.shape()[i], kSm3, "the state's 'mu' at '", path,
                            "' does not fit ", describe(g), "; call init first");
                const Tensor v = reshape(m, expanded_shape(g.shape(), i));
                cover = cover.defined() ? minimum(cover, v) : v;
              }
              accums.push_back((g * g) * c0 + cover * c1);
              return Tree();
            });
        const Tree accum = updates.unflatten(accums);
        const Tree up = detail::zip_map({&updates, &accum}, [&](std::span<const Tensor> x) {
          return x[0] * guarded_inverse_sqrt(x[1], o.eps);
        });
        const Tree nu = detail::cast_like(detail::update_moment(up, old_nu, o.b1, 1), old_nu);
        // The new cover: the accumulator's maximum over all axes but i, for each axis i.
        Tree mu =
            map_to_subtrees(accum, accum, [](const Tensor& a, const Tree&, const std::string&) {
              Tree::List out;
              if (a.ndim() < 2) {
                out.emplace_back(a);
              } else {
                for (int i = 0; i < a.ndim(); ++i) {
                  std::vector<int> others;
                  for (int j = 0; j < a.ndim(); ++j)
                    if (j != i) others.push_back(j);
                  out.emplace_back(max(a, Axes(others)));
                }
              }
              return Tree::from_list(std::move(out));
            });
        return UpdateResult{nu, Tree{{"mu", std::move(mu)}, {"nu", nu}}};
      }};
}

}  // namespace elegy::optim
