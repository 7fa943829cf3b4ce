#include "elegy/model/metrics/running_means.hpp"

#include <vector>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"
#include "elegy/kernels/running_means_list.hpp"

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

std::pair<Tree, std::map<std::string, Tensor>> running_means_step(
    const Tree& state, const std::map<std::string, Tensor>& values, double weight) {
  ELEGY_CHECK(state.is_map() && state.contains("count"), "running_means_update",
              "the state is not a running-means state (made by running_means_init)");
  const Tensor count = state["count"].tensor();
  const Tree& totals = state["totals"];
  const auto one_float = [&](const Tensor& t) {
    return t.dtype() == DType::f32 && t.numel() == 1 && t.device() == count.device();
  };
  bool fused = totals.is_map() && one_float(count);
  for (const auto& [name, v] : values)
    fused = fused && totals.contains(name) && v.numel() == 1 && v.device() == count.device();
  if (fused)
    for (const auto& [name, t] : totals.items()) fused = fused && one_float(t.tensor());
  if (!fused) {
    Tree updated = running_means_update(state, values, weight);
    auto means = running_means_result(updated);
    return {std::move(updated), std::move(means)};
  }
  const auto scalar_view = [](const Tensor& t) {
    kernels::BufferView v = autodiff::buffer_view(t);
    v.rank = 0;  // (a [1] count or total is read as its one element)
    return v;
  };
  kernels::BufferView absent;  // a log with no value this batch
  const Tensor new_count = Tensor::empty(Shape{}, DType::f32, count.device());
  std::vector<Tensor> batch;  // (the float32 values, alive for the call)
  std::vector<kernels::BufferView> views = {scalar_view(count), scalar_view(new_count)};
  batch.reserve(values.size());
  views.reserve(kernels::kRunningMeansHeader +
                kernels::kRunningMeansPerLog * totals.items().size());
  Tree::Map new_totals;
  std::map<std::string, Tensor> means;
  for (const auto& [name, t] : totals.items()) {
    const Tensor mean = Tensor::empty(Shape{}, DType::f32, count.device());
    const auto v = values.find(name);
    if (v == values.end()) {
      views.insert(views.end(), {absent, scalar_view(t.tensor()), absent, scalar_view(mean)});
      new_totals.emplace(name, t);
    } else {
      batch.push_back(reshape(v->second, Shape{}).astype(DType::f32));
      const Tensor new_total = Tensor::empty(Shape{}, DType::f32, count.device());
      views.insert(views.end(), {scalar_view(batch.back()), scalar_view(t.tensor()),
                                 scalar_view(new_total), scalar_view(mean)});
      new_totals.emplace(name, new_total);
    }
    means.emplace(name, mean);
  }
  const kernels::ViewList list{views.data(), int(views.size())};
  kernels::KernelArgs args;
  args.ints[0] = kernels::address_of(list);
  args.scalar[0] = weight;
  args.device = count.device();
  kernels::run("running_means_update", kernels::Op::RunningMeans, DType::f32, args);
  return {Tree{{"count", new_count}, {"totals", Tree::from_map(std::move(new_totals))}},
          std::move(means)};
}

}  // namespace elegy::metrics
