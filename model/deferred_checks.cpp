#include "elegy/model/deferred_checks.hpp"

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
  DeferredChecks* scope = innermost();
  if (scope == nullptr || t.device().kind != DeviceKind::cuda) {
    const std::vector<std::int64_t> values = PendingRead(t, op).values();
    check(values);
    return;
  }
  scope->pending_.push_back({PendingRead(t, op), std::move(check)});
}

}  // namespace elegy
