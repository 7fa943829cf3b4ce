// Gradient checking against central finite differences in float64, the oracle every
// differentiable op's backward rule is tested with.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

#include <elegy/elegy.hpp>

namespace elegy::testing {

// All elements as float64, in row-major order.
inline std::vector<double> values(const Tensor& t) {
  return t.to_vector<double>();
}

// Each leaf's values (values() per leaf) and data address, in leaf order: what in-place tests
// compare.
inline std::vector<std::vector<double>> values_of(const Tree& t) {
  std::vector<std::vector<double>> out;
  for (const Tensor& leaf : t.leaves()) out.push_back(values(leaf));
  return out;
}
inline std::vector<const void*> addresses(const Tree& t) {
  std::vector<const void*> out;
  for (const Tensor& leaf : t.leaves()) out.push_back(leaf.raw_data());
  return out;
}

// 0, 1, 2, ... with `shape`, as `dtype`.
inline Tensor iota(const Shape& shape, DType dtype = DType::f64) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  std::iota(v.begin(), v.end(), 0.0);
  return Tensor::from_vector(v, shape).astype(dtype);
}

// A float64 tensor of `shape` with values uniform in [lo, hi) from `seed`, built on the host
// so the checker does not depend on the RNG ops it may be testing.
inline Tensor host_uniform(const Shape& shape, std::uint64_t seed, double lo = -1.0,
                           double hi = 1.0) {
  std::vector<double> v(std::size_t(shape.numel()));
  std::uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (double& x : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x = lo + (hi - lo) * double(s >> 11) / double(1ULL << 53);
  }
  return Tensor::from_vector(v, shape);
}

// Checks value_and_grad of scalar-valued f at `inputs` (float64 tensors) against central
// differences with step `eps`, element by element; |analytic - numeric| <= atol + rtol*|numeric|.
inline void check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                            const std::vector<Tensor>& inputs, double eps = 1e-6,
                            double atol = 1e-6, double rtol = 1e-5) {
  Tree::List leaves;
  for (const Tensor& x : inputs) leaves.push_back(Tree(x));
  const Tree params = Tree::from_list(leaves);
  auto unpack = [&](const Tree& p) {
    std::vector<Tensor> xs;
    for (const Tree& t : p.elements()) xs.push_back(t.tensor());
    return xs;
  };
  auto [value, grads] = value_and_grad([&](const Tree& p) { return f(unpack(p)); }, params);
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Tensor analytic = grads[k].tensor();
    REQUIRE(analytic.shape() == inputs[k].shape());
    const std::vector<double> got = analytic.to_vector<double>();
    std::vector<double> base = inputs[k].to_vector<double>();
    for (std::size_t i = 0; i < base.size(); ++i) {
      auto eval_at = [&](double delta) {
        std::vector<double> moved = base;
        moved[i] += delta;
        std::vector<Tensor> xs = inputs;
        xs[k] = Tensor::from_vector(moved, inputs[k].shape());
        return f(xs).item<double>();
      };
      const double numeric = (eval_at(eps) - eval_at(-eps)) / (2 * eps);
      INFO("input ", k, " element ", i, ": analytic ", got[i], " vs numeric ", numeric);
      CHECK(std::abs(got[i] - numeric) <= atol + rtol * std::abs(numeric));
    }
  }
}

// A non-contiguous float64 tensor with the given logical shape (a transposed view of a dense
// tensor), for checking that ops and their gradients honour strides.
inline Tensor transposed_input(const Shape& shape, std::uint64_t seed) {
  Shape reversed;
  for (int i = shape.size() - 1; i >= 0; --i) reversed.push_back(shape[i]);
  return transpose(host_uniform(reversed, seed));
}

}  // namespace elegy::testing
