#include "elegy/autodiff/deferred_checks.hpp"

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/step_recording.hpp"

namespace elegy {
namespace {

DeferredChecks*& innermost() {
  static thread_local DeferredChecks* scope = nullptr;
  return scope;
}

// [min, max] of `values` as one int32 or int64 vector (other dtypes are cast to int64 first):
// the Min and Max kernels write straight into its two slots. A label check runs this every step;
// stacking two 0-d results and casting them took three kernels more.
Tensor min_and_max(const Tensor& values, const char* op) {
  const bool as_is = values.dtype() == DType::i32 || values.dtype() == DType::i64;
  const Tensor src = as_is ? values : values.astype(DType::i64);
  const Tensor out = Tensor::empty(Shape{2}, src.dtype(), src.device());
  for (const kernels::Op kop : {kernels::Op::Min, kernels::Op::Max})
    kernels::run(op, kop, src.dtype(),
                 autodiff::reduction_into_slot(src, out, kop == kernels::Op::Max ? 1 : 0));
  return out;
}

}  // namespace

DeferredChecks::DeferredChecks() : outer_(innermost()) {
  innermost() = this;
}

DeferredChecks::~DeferredChecks() {
  innermost() = outer_;
}

void DeferredChecks::resolve() {
  // A step being compiled: its replays run the checks recorded so far here too.
  if (autodiff::StepRecording* r = autodiff::StepRecording::current()) r->add_resolve();
  autodiff::StepRecording::Paused paused;  // the reads below are the checks' own
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
  if (autodiff::StepRecording* r = autodiff::StepRecording::current()) {
    // Each replay of a compiled step reads `t` again and checks at its resolve point.
    r->add_check(op, {t.address()}, [t = t.detached(), check, op] {
      auto read = std::make_shared<PendingRead>(t, op);
      return [read, check] { check(read->values()); };
    });
  }
  autodiff::StepRecording::Paused paused;  // the reads below are the check's own
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
  if (values.numel() == 0) return;  // nothing out of range
  check_later(
      min_and_max(values.detached(), op),
      [lo, hi, on_bad = std::move(on_bad)](std::span<const std::int64_t> range) {
        if (range[0] < lo || range[1] >= hi) on_bad(range[0], range[1]);
      },
      op);
}

}  // namespace elegy
