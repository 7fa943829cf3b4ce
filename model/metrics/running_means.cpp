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

std::optional<MeansUpdated> update_means(const Tensor& count, double count_add,
                                         std::span<const MeanLog> logs, double value_weight) {
  // (0-d count and totals: the outputs are 0-d, as the composed ops' would be; a [1] value is
  // read as its one element, as running_means_update reshapes it.)
  const auto one_float = [&](const Tensor& t, bool scalar) {
    return t.defined() && t.dtype() == DType::f32 && t.numel() == 1 && (!scalar || t.ndim() == 0) &&
           t.device() == count.device();
  };
  if (!one_float(count, true)) return std::nullopt;
  for (const MeanLog& log : logs)
    if (!one_float(log.total, true) || (log.value.defined() && !one_float(log.value, false)))
      return std::nullopt;
  const auto scalar_view = [](const Tensor& t) {
    kernels::BufferView v = autodiff::buffer_view(t);
    v.rank = 0;
    return v;
  };
  const auto scalar = [&] { return Tensor::empty(Shape{}, DType::f32, count.device()); };
  const kernels::BufferView absent;  // a log with no value this batch
  MeansUpdated out{scalar(), {}, {}};
  std::vector<kernels::BufferView> views = {scalar_view(count), scalar_view(out.count)};
  views.reserve(kernels::kRunningMeansHeader + kernels::kRunningMeansPerLog * logs.size());
  for (const MeanLog& log : logs) {
    out.means.push_back(scalar());
    out.totals.push_back(log.value.defined() ? scalar() : log.total);
    views.insert(views.end(),
                 {log.value.defined() ? scalar_view(log.value) : absent, scalar_view(log.total),
                  log.value.defined() ? scalar_view(out.totals.back()) : absent,
                  scalar_view(out.means.back())});
  }
  const kernels::ViewList list{views.data(), int(views.size())};
  kernels::KernelArgs args;
  args.ints[0] = kernels::address_of(list);
  args.scalar[0] = value_weight;
  args.scalar[1] = count_add;
  args.device = count.device();
  kernels::run("running_means_update", kernels::Op::RunningMeans, DType::f32, args);
  return out;
}

std::pair<Tree, std::map<std::string, Tensor>> running_means_step(
    const Tree& state, const std::map<std::string, Tensor>& values, double weight) {
  ELEGY_CHECK(state.is_map() && state.contains("count"), "running_means_step",
              "the state is not a running-means state (made by running_means_init)");
  const Tree& totals = state["totals"];
  const Device device = state["count"].tensor().device();
  // (Checked before any cast: a value the kernel cannot take goes to the composed ops as is.)
  bool known = totals.is_map();
  for (const auto& [name, v] : values)
    known = known && totals.contains(name) && v.numel() == 1 && v.device() == device;
  std::vector<MeanLog> logs;
  std::vector<std::string> names;
  if (known) {
    for (const auto& [name, t] : totals.items()) {
      const auto v = values.find(name);
      logs.push_back({t.tensor(), v == values.end() ? Tensor() : v->second.astype(DType::f32)});
      names.push_back(name);
    }
  }
  const std::optional<MeansUpdated> fused =
      known ? update_means(state["count"].tensor(), weight, logs, weight) : std::nullopt;
  if (!fused) {
    Tree updated = running_means_update(state, values, weight);
    auto means = running_means_result(updated);
    return {std::move(updated), std::move(means)};
  }
  Tree::Map new_totals;
  std::map<std::string, Tensor> means;
  for (std::size_t i = 0; i < names.size(); ++i) {
    new_totals.emplace(names[i], fused->totals[i]);
    means.emplace(names[i], fused->means[i]);
  }
  return {Tree{{"count", fused->count}, {"totals", Tree::from_map(std::move(new_totals))}},
          std::move(means)};
}

}  // namespace elegy::metrics
