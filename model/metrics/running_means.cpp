#include "elegy/model/metrics/running_means.hpp"

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"

namespace elegy::metrics {
namespace {
Device device_of(const std::map<std::string, Tensor>& values) {
  return values.empty() ? Device::cpu() : values.begin()->second.device();
}
}  // namespace

Tree running_means_init(const std::map<std::string, Tensor>& values) {
  const Device d = device_of(values);
  Tree::Map totals;
  for (const auto& [name, v] : values) totals[name] = zeros({}, DType::f32, d);
  return Tree{{"count", zeros({}, DType::f32, d)}, {"totals", Tree::from_map(std::move(totals))}};
}

Tree running_means_update(const Tree& state, const std::map<std::string, Tensor>& values,
                          double weight) {
  ELEGY_CHECK(state.is_map() && state.contains("count"), "running_means_update",
              "the state is not a running-means state (made by running_means_init)");
  const Tree& totals = state["totals"];
  Tree::Map out = totals.is_map() ? totals.items() : Tree::Map{};
  for (const auto& [name, v] : values) {
    ELEGY_CHECK(v.numel() == 1, "running_means_update", "'", name, "' must be a scalar, got ",
                describe(v));
    const Tensor value = reshape(v, Shape{}).astype(DType::f32);
    const Tensor w = scalar_like(value, weight);  // a shared constant on a GPU, no kernel
    auto it = out.find(name);
    if (it == out.end())
      out.emplace(name, value * w);
    else  // total + value * weight in one kernel (same bits as the product, then the add)
      it->second = mul_add(value, w, it->second.tensor());
  }
  return Tree{{"count", state["count"].tensor() + weight},
              {"totals", Tree::from_map(std::move(out))}};
}

std::map<std::string, Tensor> running_means_result(const Tree& state) {
  std::map<std::string, Tensor> out;
  const Tensor count = state["count"].tensor();
  const Tree& totals = state["totals"];
  if (!totals.is_map()) return out;
  // One kernel per log (0 before anything was counted), not greater + maximum + div + where.
  for (const auto& [name, t] : totals.items()) out[name] = divide_no_nan(t.tensor(), count);
  return out;
}

}  // namespace elegy::metrics
