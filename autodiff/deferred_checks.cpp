#include "elegy/autodiff/deferred_checks.hpp"

#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"

namespace elegy {
namespace {

DeferredChecks*& innermost() {
  static thread_local DeferredChecks* scope = nullptr;
  return scope;
}

}  // namespace

DeferredChecks::DeferredChecks() : outer_(innermost()) {
  innermost() = this;
}

DeferredChecks::~DeferredChecks() {
  innermost() = outer_;
}

void DeferredChecks::resolve() {
  std::vector<Pending> pending = std::move(pending_);
  pending_.clear();
  for (Pending& p : pending) {
    const std::vector<std::int64_t>& values = p.read.values();
    p.check(values);
  }
}

void DeferredChecks::resolve_current() {
  if (DeferredChecks* scope = innermost()) scope->resolve();
}

void check_later(const Tensor& t, std::function<void(std::span<const std::int64_t>)> check,
                 const char* op) {
  if (t.device().is_meta()) return;  // shapes only (Model::summary): no values to check
  DeferredChecks* scope = innermost();
  if (scope == nullptr || t.device().kind != DeviceKind::cuda) {
    const std::vector<std::int64_t> values = PendingRead(t, op).values();
    check(values);
    return;
  }
  scope->pending_.push_back({PendingRead(t, op), std::move(check)});
}

void check_range_later(const Tensor& values, std::int64_t lo, std::int64_t hi,
                       std::function<void(std::int64_t, std::int64_t)> on_bad, const char* op) {
  const Tensor ints = values.detached();
  check_later(
      stack({min(ints), max(ints)}).astype(DType::i64),
      [lo, hi, on_bad = std::move(on_bad)](std::span<const std::int64_t> range) {
        if (range[0] < lo || range[1] >= hi) on_bad(range[0], range[1]);
      },
      op);
}

}  // namespace elegy
