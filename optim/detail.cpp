#include "elegy/optim/detail.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"

namespace elegy::optim::detail {

Tensor make_count(std::int32_t value) {
  return Tensor::from_vector(std::vector<std::int32_t>{value}, Shape{});
}

std::int32_t read_count(std::string_view op, const OptState& state) {
  const Tensor& count = state["count"].tensor();
  ELEGY_CHECK(count.dtype() == DType::i32 && count.numel() == 1 && count.device().is_cpu(), op,
              "the state's count must be an int32 scalar on the cpu, got ", describe(count),
              "; pass the state that init (or the previous update) returned");
  return *count.data<std::int32_t>();
}

std::int32_t safe_increment(std::int32_t count) {
  return count == std::numeric_limits<std::int32_t>::max() ? count : count + 1;
}

void check_empty_state(std::string_view op, const OptState& state) {
  ELEGY_CHECK(state.is_none(), op, "this transform has no state (None), got ", state,
              ": the state belongs to another optimizer; call init first");
}

void check_state_keys(std::string_view op, const OptState& state,
                      std::initializer_list<std::string_view> keys) {
  bool ok = state.is_map() && state.size() == keys.size();
  if (ok)
    for (std::string_view k : keys) ok = ok && state.items().contains(k);
  if (ok) return;
  std::string expected;
  for (std::string_view k : keys) expected += (expected.empty() ? "" : ", ") + std::string(k);
  fail(op, "expected a state {", expected, "} as made by this transform's init, got ", state,
       ": the state belongs to another optimizer or was never initialised; call init first");
}

void check_matches_updates(std::string_view op, std::string_view field, const Tree& updates,
                           const Tree& state_tree) {
  const std::string d = Tree::structure_difference(updates, state_tree);
  ELEGY_CHECK(d.empty(), op, "the updates do not have the structure of the params the state's '",
              field, "' was initialised for: ", d,
              " (updates vs state); call init with params of this structure first");
  const auto u = updates.flatten_with_paths();
  const auto s = state_tree.flatten_with_paths();
  for (std::size_t i = 0; i < u.size(); ++i) {
    const Tensor& a = u[i].second;
    const Tensor& b = s[i].second;
    ELEGY_CHECK(a.shape() == b.shape(), op, "the update at '", u[i].first, "' is ", describe(a),
                " but the state's '", field, "' holds ", describe(b),
                " there; call init with params of these shapes first");
  }
}

void check_range(std::string_view op, std::string_view name, double value, double lo, double hi,
                 bool hi_open) {
  const bool ok = std::isfinite(value) && value >= lo && (hi_open ? value < hi : value <= hi);
  ELEGY_CHECK(ok, op, name, " must be in [", lo, ", ", hi, hi_open ? ")" : "]", ", got ", value);
}

void check_finite_nonnegative(std::string_view op, std::string_view name, double value) {
  ELEGY_CHECK(std::isfinite(value) && value >= 0.0, op, name, " must be a finite number >= 0, got ",
              value);
}

double eval_checked(std::string_view op, std::string_view name, const Schedule& fn,
                    std::int64_t count) {
  const double v = fn(count);
  ELEGY_CHECK(std::isfinite(v) && v >= 0.0, op, "the ", name, " schedule returned ", v, " at step ",
              count, "; it must be a finite number >= 0");
  return v;
}

namespace {

// base^n for an integer n >= 0 as XLA computes pow(float, int) on the CPU: right-to-left binary
// exponentiation in T, with subnormal results flushed to zero (XLA runs with FTZ).
template <class T>
T integer_power(T base, std::int64_t n) {
  auto ftz = [](T v) { return std::abs(v) < std::numeric_limits<T>::min() ? T(0) : v; };
  T acc = 1, x = base;
  while (n > 0) {
    if (n & 1) acc = ftz(acc * x);
    x = ftz(x * x);
    n >>= 1;
  }
  return acc;
}

}  // namespace

double bias_correction(double decay, std::int64_t count, DType dtype) {
  if (dtype == DType::f32) {
    // optax jits its bias correction: there XLA evaluates the float32 power as the float64 power
    // of the float32 operands, rounded (unlike an eager pow; see power_as).
    const float d = static_cast<float>(decay);
    const float p = static_cast<float>(std::pow(double(d), double(count)));
    return double(1.0f - p);
  }
  return 1.0 - std::pow(decay, double(count));
}

double power_as(double base, double exponent, DType dtype) {
  const bool integral = exponent >= 0.0 && exponent == std::floor(exponent) && exponent < 1e18;
  if (integral) {
    return dtype == DType::f32
               ? double(integer_power(static_cast<float>(base), std::int64_t(exponent)))
               : integer_power(base, std::int64_t(exponent));
  }
  if (dtype == DType::f32) {
    const float b = static_cast<float>(base), e = static_cast<float>(exponent);
    return double(static_cast<float>(std::pow(double(b), double(e))));
  }
  return std::pow(base, exponent);
}

double round_to(double x, DType dtype) {
  return dtype == DType::f32 ? double(static_cast<float>(x)) : x;
}

Tree update_moment(const Tree& updates, const Tree& moment, double decay, int order) {
  autodiff::NoGrad no_grad;
  return zip_map({&updates, &moment}, [&](std::span<const Tensor> x) {
    return (order == 2 ? x[0] * x[0] : x[0]) * (1.0 - decay) + x[1] * decay;
  });
}

Tree bias_corrected(const Tree& moment, double decay, std::int64_t count) {
  autodiff::NoGrad no_grad;
  return moment.map([&](const Tensor& m) { return m / bias_correction(decay, count, m.dtype()); });
}

void check_params(std::string_view op, const Tree& updates, const Tree& params) {
  ELEGY_CHECK(!params.is_none() || updates.is_none(), op,
              "needs the current params: pass them as update's third argument");
  const std::string d = Tree::structure_difference(updates, params);
  ELEGY_CHECK(d.empty(), op, "the params do not have the structure of the updates: ", d,
              " (updates vs params)");
}

Tree zip_map(std::initializer_list<const Tree*> trees,
             const std::function<Tensor(std::span<const Tensor>)>& fn) {
  std::vector<std::vector<Tensor>> leaves;
  leaves.reserve(trees.size());
  for (const Tree* t : trees) leaves.push_back(t->leaves());
  const std::size_t n = leaves.front().size();
  std::vector<Tensor> out(n), args(trees.size());
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < leaves.size(); ++k) args[k] = leaves[k][i];
    out[i] = fn(args);
  }
  return (*trees.begin())->unflatten(out);
}

Tree cast_like(const Tree& now, const Tree& before) {
  return zip_map({&now, &before},
                 [](std::span<const Tensor> x) { return x[0].astype(x[1].dtype()); });
}

Tree full_like_tree(const Tree& params, double value, std::optional<DType> dtype) {
  return params.map([&](const Tensor& p) {
    return full(p.shape(), value, dtype.value_or(p.dtype()), p.device());
  });
}

}  // namespace elegy::optim::detail
