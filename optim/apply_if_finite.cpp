// apply_if_finite: skip updates with NaN or infinity (optax/transforms/_conditionality.py).
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/wrappers.hpp"

namespace elegy::optim {

namespace {

constexpr const char* kOp = "apply_if_finite";

std::int32_t read_int(const OptState& state, const char* field) {
  const Tensor& t = state[field].tensor();
  ELEGY_CHECK(t.dtype() == DType::i32 && t.numel() == 1 && t.device().is_cpu(), kOp, "the state's ",
              field, " must be an int32 scalar on the cpu, got ", describe(t), "; call init first");
  return *t.data<std::int32_t>();
}

Tensor flag(bool v) {
  return Tensor::from_vector(std::vector<std::uint8_t>{v}, Shape{}).astype(DType::bool_);
}

// Every element of every leaf finite: x * 0 is 0 for finite x and NaN for NaN and +-inf. CPU
// leaves are read one by one (a read is free there and the first bad leaf ends the walk); the
// leaves on each accelerator go through one sum_of_squares of their x * 0 (0 exactly when all
// are finite): one host read per device instead of one per leaf (each read waits for the GPU),
// and two kernels per leaf.
bool all_finite(const Tree& updates) {
  std::vector<std::pair<Device, std::vector<Tensor>>> per_device;
  for (const Tensor& leaf : updates.leaves()) {
    if (leaf.numel() == 0 || !is_floating(leaf.dtype())) continue;
    if (leaf.device().is_cpu()) {
      if (!(sum(leaf * 0.0) == 0.0).item<bool>()) return false;
      continue;
    }
    auto it = std::find_if(per_device.begin(), per_device.end(),
                           [&](const auto& group) { return group.first == leaf.device(); });
    if (it == per_device.end()) it = per_device.insert(per_device.end(), {leaf.device(), {}});
    it->second.push_back(leaf * 0.0);
  }
  for (const auto& [device, zeros] : per_device)
    if (!(sum_of_squares(zeros) == 0.0).item<bool>()) return false;
  return true;
}

}  // namespace

GradientTransformation apply_if_finite(GradientTransformation inner, int max_consecutive_errors) {
  ELEGY_CHECK(max_consecutive_errors >= 0, kOp, "max_consecutive_errors must be >= 0, got ",
              max_consecutive_errors);
  auto shared = std::make_shared<const GradientTransformation>(std::move(inner));
  return {[shared](const Tree& params) {
            return Tree{{"notfinite_count", detail::make_count(0)},
                        {"last_finite", flag(true)},
                        {"total_notfinite", detail::make_count(0)},
                        {"inner_state", shared->init(params)}};
          },
          [shared, max_consecutive_errors](const Tree& updates, const OptState& state,
                                           const Tree& params) {
            detail::check_state_keys(
                kOp, state, {"notfinite_count", "last_finite", "total_notfinite", "inner_state"});
            const std::int32_t notfinite = read_int(state, "notfinite_count");
            const std::int32_t total = read_int(state, "total_notfinite");
            autodiff::NoGrad no_grad;
            const bool finite = all_finite(updates);
            const std::int32_t new_notfinite = finite ? 0 : detail::safe_increment(notfinite);
            Tree out, inner_state;
            if (finite || new_notfinite > max_consecutive_errors) {
              UpdateResult r = shared->update(updates, state["inner_state"], params);
              out = std::move(r.updates);
              inner_state = std::move(r.state);
            } else {
              out = updates.map([](const Tensor& g) { return zeros_like(g); });
              inner_state = state["inner_state"];
            }
            return UpdateResult{
                std::move(out),
                Tree{{"notfinite_count", detail::make_count(new_notfinite)},
                     {"last_finite", flag(finite)},
                     {"total_notfinite",
                      detail::make_count(finite ? total : detail::safe_increment(total))},
                     {"inner_state", std::move(inner_state)}}};
          }};
}

}  // namespace elegy::optim
